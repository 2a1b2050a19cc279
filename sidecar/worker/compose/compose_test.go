package compose_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/accounts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/odoosim"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/config"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/compose"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func setup(t *testing.T) (*pgtest.DB, *pgxpool.Pool, *compose.Composer) {
	t.Helper()
	db := pgtest.NewDB(t, pgtest.Sidecar)
	db.Exec(t, `INSERT INTO whatsapp_config (name, phone_number_id, access_token, company_id, default_country_code, auto_send_order_creation)
		VALUES ('Boutique', '1065', 'token', 1, 'SN', true)`)
	reg := accounts.New(accounts.Options{Env: config.WhatsApp{APIURL: "http://127.0.0.1:1/v21.0"}})
	if err := reg.Load(context.Background(), db.Pool(t)); err != nil {
		t.Fatal(err)
	}
	return db, db.Pool(t), &compose.Composer{Pool: db.Pool(t), Accounts: reg}
}

// queued lists the messages composed, as "kind:type:status".
func queued(t *testing.T, db *pgtest.DB) []string {
	t.Helper()
	rows, err := db.Pool(t).Query(context.Background(), `
		SELECT kind || ':' || message_type || ':' || status FROM whatsapp_message ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func TestDecisions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		write func(ctx context.Context, pool *pgxpool.Pool) error
		want  []string
	}{
		{"ConfirmedThenCancelledBeforeComposing", func(ctx context.Context, pool *pgxpool.Pool) error {
			// Read after commit, the order is cancelled: "confirmed" would be stale.
			if err := odoosim.ConfirmOrder(ctx, pool, odoosim.OrderDraft); err != nil {
				return err
			}
			return odoosim.CancelOrder(ctx, pool, odoosim.OrderDraft)
		}, []string{"order_cancelled:text:queued"}},
		{"ConfirmedByTheCustomersClick", func(ctx context.Context, pool *pgxpool.Pool) error {
			// The click's answer told the customer; no second "confirmed".
			if _, err := pool.Exec(ctx, `UPDATE sale_order SET state = 'sale', x_whatsapp_validated = true WHERE id = 26`); err != nil {
				return err
			}
			return nil
		}, nil},
		{"SentQuotationIsNotNews", func(ctx context.Context, pool *pgxpool.Pool) error {
			_, err := pool.Exec(ctx, `UPDATE sale_order SET state = 'sent' WHERE id = 26`)
			return err
		}, nil},
		{"PaymentReversedRaisesTheResidual", func(ctx context.Context, pool *pgxpool.Pool) error {
			_, err := pool.Exec(ctx, `UPDATE account_move SET amount_residual = 469050, payment_state = 'not_paid' WHERE id = 32`)
			return err
		}, nil},
		{"CreditNotePosted", func(ctx context.Context, pool *pgxpool.Pool) error {
			id, err := odoosim.NewInvoice(ctx, pool, odoosim.PartnerAwa, 10000, 1800)
			if err != nil {
				return err
			}
			if _, err := pool.Exec(ctx, `UPDATE account_move SET move_type = 'out_refund' WHERE id = $1`, id); err != nil {
				return err
			}
			_, err = odoosim.PostInvoice(ctx, pool, id)
			return err
		}, []string{"invoice_posted:document:queued"}},
		{"QuotationForAnOptedOutPartner", func(ctx context.Context, pool *pgxpool.Pool) error {
			if _, err := pool.Exec(ctx, `UPDATE res_partner SET x_whatsapp_opt_out = true WHERE id = 43`); err != nil {
				return err
			}
			_, err := odoosim.NewQuotation(ctx, pool, odoosim.PartnerMoussa, 1000, 180)
			return err
		}, nil},
		{"QuotationForAPartnerWithAJunkNumber", func(ctx context.Context, pool *pgxpool.Pool) error {
			if _, err := pool.Exec(ctx, `UPDATE res_partner SET mobile = 'abc 12' WHERE id = 43`); err != nil {
				return err
			}
			_, err := odoosim.NewQuotation(ctx, pool, odoosim.PartnerMoussa, 1000, 180)
			return err
		}, []string{"order_created:interactive:failed"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			db, pool, composer := setup(t)
			ctx := context.Background()
			if err := c.write(ctx, pool); err != nil {
				t.Fatal(err)
			}
			if _, err := composer.Drain(ctx); err != nil {
				t.Fatal(err)
			}
			if got := queued(t, db); fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("messages %v, want %v", got, c.want)
			}
			var left int
			db.QueryRow(t, []any{&left}, `SELECT count(*) FROM whatsapp_sidecar.event`)
			if left != 0 {
				t.Errorf("%d events left: every event is consumed, whatever the decision", left)
			}
		})
	}
}

func TestJunkNumberSaysWhy(t *testing.T) {
	t.Parallel()
	db, pool, composer := setup(t)
	ctx := context.Background()
	db.Exec(t, `UPDATE res_partner SET mobile = 'abc 12' WHERE id = 43`)
	if _, err := odoosim.NewQuotation(ctx, pool, odoosim.PartnerMoussa, 1000, 180); err != nil {
		t.Fatal(err)
	}
	if _, err := composer.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	var msg string
	db.QueryRow(t, []any{&msg}, `SELECT error_message FROM whatsapp_message`)
	if !strings.Contains(msg, `Moussa Diop's number "abc 12" cannot receive WhatsApp messages`) {
		t.Errorf("error message %q does not say which number is wrong", msg)
	}
}

// The Senegalese numbers of the demo partners, in the forms Odoo stores them.
func TestRecipientNumbers(t *testing.T) {
	t.Parallel()
	db, pool, composer := setup(t)
	ctx := context.Background()
	want := map[int]string{
		odoosim.PartnerAwa:    "+221771234567", // "+221 77 123 45 67"
		odoosim.PartnerMoussa: "+221771234568", // "77 123 45 68"
		odoosim.PartnerFall:   "+221771234569", // "00221771234569"
		odoosim.PartnerFatou:  "+221789012345", // phone "+221 78 901 23 45", no mobile
	}
	for partner := range want {
		if _, err := odoosim.NewQuotation(ctx, pool, partner, 1000, 180); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := composer.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	for partner, phone := range want {
		var got string
		db.QueryRow(t, []any{&got}, `SELECT phone FROM whatsapp_message WHERE contact_id = $1`, partner)
		if got != phone {
			t.Errorf("partner %d: phone %q, want %q", partner, got, phone)
		}
	}
}

// An invoice posted for a partner without a number: one failed row says why; the
// buttons that would follow it are not queued to fail the same way.
func TestInvoiceForPartnerWithoutNumberFailsOnce(t *testing.T) {
	t.Parallel()
	db, pool, composer := setup(t)
	ctx := context.Background()
	id, err := odoosim.NewInvoice(ctx, pool, odoosim.PartnerIbrahima, 10000, 1800)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := odoosim.PostInvoice(ctx, pool, id); err != nil {
		t.Fatal(err)
	}
	if _, err := composer.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := queued(t, db); fmt.Sprint(got) != "[invoice_posted:document:failed]" {
		t.Errorf("messages %v, want the document recorded as failed, nothing after it", got)
	}
}
