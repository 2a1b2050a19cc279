package writeback_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/accounts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/odoosim"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/invoicepdf"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/config"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator/emulatortest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/compose"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/send"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/writeback"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type bundle struct {
	db       *pgtest.DB
	emu      *emulator.Server
	composer *compose.Composer
	sender   *send.Sender
	writer   *writeback.Writer
}

func setup(t *testing.T) *bundle {
	t.Helper()
	ctx := context.Background()
	db := pgtest.NewDB(t, pgtest.Sidecar)
	emu := emulatortest.Start(t, emulator.Config{AccessToken: "tok"})
	db.Exec(t, `INSERT INTO whatsapp_config (name, phone_number_id, access_token, company_id, default_country_code,
		auto_send_order_creation, rate_limit_per_second) VALUES ('Boutique', '1065', 'tok', 1, 'SN', true, 1000)`)
	reg := accounts.New(accounts.Options{Env: config.WhatsApp{APIURL: emu.BaseURL()}})
	if err := reg.Load(ctx, db.Pool(t)); err != nil {
		t.Fatal(err)
	}
	return &bundle{db: db, emu: emu,
		composer: &compose.Composer{Pool: db.Pool(t), Accounts: reg},
		sender: &send.Sender{Pool: db.Pool(t), Accounts: reg, PDFs: &invoicepdf.Source{},
			PairInterval: time.Millisecond, PairBurst: 100, Backoff: func(int) time.Duration { return 0 }},
		writer: &writeback.Writer{Pool: db.Pool(t)},
	}
}

// sendAll composes and sends what is captured, then writes back what it can.
func (b *bundle) sendAll(t *testing.T) (waiting bool) {
	t.Helper()
	ctx := context.Background()
	if _, err := b.composer.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.sender.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	_, waiting, err := b.writer.Drain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return waiting
}

// odooTx is a request of Odoo's: REPEATABLE READ, as Odoo opens every cursor, on a
// connection of its own (not the sidecar's).
func (b *bundle) odooTx(t *testing.T) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(b.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = "odoo-16.0"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// quotation is a new draft order of one line for a customer with a number.
func (b *bundle) quotation(t *testing.T) int {
	t.Helper()
	id, err := odoosim.NewQuotation(context.Background(), b.db.Pool(t), odoosim.PartnerAwa, 1000, 180)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// odooConfirms ends Odoo's request: it confirms the orders from first on (the
// test's newest) and commits; then the flags that waited for it are written.
func (b *bundle) odooConfirms(t *testing.T, tx pgx.Tx, first int) {
	t.Helper()
	ctx := context.Background()
	if _, err := tx.Exec(ctx, `UPDATE sale_order SET state = 'sale' WHERE id >= $1`, first); err != nil {
		t.Fatalf("Odoo's update failed: %v (serialization failure: %v)", err, isSerializationFailure(err))
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("Odoo's commit failed: %v", err)
	}
	if waiting := b.sendAll(t); waiting {
		t.Fatal("the flags still wait with no transaction open")
	}
}

func isSerializationFailure(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "40001"
}

// Odoo's pattern, deterministically, without Odoo: a REPEATABLE READ transaction
// reads orders, the sidecar sends their notifications meanwhile, then the
// transaction updates the orders and commits. A flag written under it would make
// its update fail ("could not serialize access due to concurrent update") and Odoo
// replay the request; the sidecar waits for the transaction to end, then writes the
// flags.
func TestOdooTransactionNeverFailsOnFlags(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 1000} {
		t.Run(map[int]string{1: "OneOrder", 1000: "MassUpdateOf1000"}[n], func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t)
			first := b.quotation(t)
			if n > 1 {
				// The rest as one ORM create of n-1 orders: one statement, as Odoo's
				// batched create writes them.
				b.db.Exec(t, `INSERT INTO sale_order (company_id, create_date, create_uid, currency_id, currency_rate, date_order,
					name, partner_id, partner_invoice_id, partner_shipping_id, pricelist_id, require_payment, require_signature,
					state, team_id, user_id, write_date, write_uid, amount_untaxed, amount_tax, amount_total)
					SELECT company_id, create_date, create_uid, currency_id, currency_rate, date_order, name || '-' || g,
						partner_id, partner_invoice_id, partner_shipping_id, pricelist_id, require_payment, require_signature,
						state, team_id, user_id, write_date, write_uid, amount_untaxed, amount_tax, amount_total
					FROM sale_order, generate_series(2, $2) g WHERE id = $1`, first, n)
			}
			tx := b.odooTx(t)
			var read int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM sale_order WHERE id >= $1 AND state = 'draft'`, first).Scan(&read); err != nil || read != n {
				t.Fatalf("Odoo read %d orders (%v), want %d", read, err, n)
			}
			if waiting := b.sendAll(t); !waiting {
				t.Fatal("the flags were written while an Odoo transaction was open")
			}
			if at := emulatortest.Accepted(b.emu); at != n {
				t.Fatalf("%d notifications reached Meta, want %d", at, n)
			}
			b.odooConfirms(t, tx, first)
			var flagged int
			b.db.QueryRow(t, []any{&flagged}, `SELECT count(*) FROM sale_order WHERE id >= $1 AND x_whatsapp_creation_sent
				AND x_whatsapp_creation_sent_date IS NOT NULL AND state = 'sale'`, first)
			if flagged != n {
				t.Errorf("%d orders confirmed and flagged, want %d", flagged, n)
			}
		})
	}
}

// The same with an invoice posted then paid at once: Odoo's payment transaction
// read the invoice, the sidecar sends the invoice, the payment updates it.
func TestPaymentNeverFailsOnFlags(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	inv, err := odoosim.NewInvoice(ctx, b.db.Pool(t), odoosim.PartnerAwa, 1000, 180)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := odoosim.PostInvoice(ctx, b.db.Pool(t), inv); err != nil {
		t.Fatal(err)
	}
	tx := b.odooTx(t)
	var residual float64
	if err := tx.QueryRow(ctx, `SELECT amount_residual FROM account_move WHERE id = $1`, inv).Scan(&residual); err != nil {
		t.Fatal(err)
	}
	if waiting := b.sendAll(t); !waiting {
		t.Fatal("the flags were written while an Odoo transaction was open")
	}
	if _, err := tx.Exec(ctx, `UPDATE account_move SET amount_residual = 0, payment_state = 'paid' WHERE id = $1`, inv); err != nil {
		t.Fatalf("Odoo's payment failed: %v (serialization failure: %v)", err, isSerializationFailure(err))
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// The invoice's flag waited for the payment's transaction; the payment's message
	// is sent now: both flags of the one invoice are written in one batch.
	b.sendAll(t)
	if at := emulatortest.Accepted(b.emu); at < 2 {
		t.Fatalf("%d notifications reached Meta, want the invoice's and the payment's", at)
	}
	var sent, paid bool
	b.db.QueryRow(t, []any{&sent, &paid}, `SELECT COALESCE(x_whatsapp_invoice_sent AND x_whatsapp_invoice_sent_date IS NOT NULL, false),
		COALESCE(x_whatsapp_residual_sent AND x_whatsapp_residual_sent_date IS NOT NULL, false) FROM account_move WHERE id = $1`, inv)
	if !sent {
		t.Error("x_whatsapp_invoice_sent not set once Odoo's transaction ended")
	}
	if !paid {
		t.Error("x_whatsapp_residual_sent not set once the payment's message was sent")
	}
}

// The window the statement's own look leaves: an Odoo transaction that takes its
// snapshot after the flags' statement started and before it commits. It is opened
// at the named point between the write and the commit: the sidecar rolls back and
// writes the flags once the transaction is over, and Odoo's update never fails.
func TestOdooTransactionBegunDuringTheFlagsWriteNeverFails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	order := b.quotation(t)
	var tx pgx.Tx
	b.writer.BeforeFlagsCommit = func() {
		if tx != nil {
			return
		}
		tx = b.odooTx(t)
		var state string
		if err := tx.QueryRow(ctx, `SELECT state FROM sale_order WHERE id = $1`, order).Scan(&state); err != nil {
			t.Error(err)
		}
	}
	if waiting := b.sendAll(t); !waiting {
		t.Fatal("the flags were committed though an Odoo transaction began before their commit")
	}
	if tx == nil {
		t.Fatal("no flags were written: the test tests nothing")
	}
	b.odooConfirms(t, tx, order)
	var flagged bool
	b.db.QueryRow(t, []any{&flagged}, `SELECT COALESCE(x_whatsapp_creation_sent, false) AND state = 'sale' FROM sale_order WHERE id = $1`, order)
	if !flagged {
		t.Error("the order is not both confirmed and flagged")
	}
}

// What the waiting avoids, for the record: a flag committed under an open
// REPEATABLE READ transaction makes that transaction's update of the same order
// fail. (The test fails if PostgreSQL ever stops behaving so: then the waiting
// could go.)
func TestAFlagWrittenUnderOdooFailsIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	order := b.quotation(t)
	tx := b.odooTx(t)
	if _, err := tx.Exec(ctx, `SELECT state FROM sale_order WHERE id = $1`, order); err != nil {
		t.Fatal(err)
	}
	b.db.Exec(t, `UPDATE sale_order SET x_whatsapp_creation_sent = true WHERE id = $1`, order)
	_, err := tx.Exec(ctx, `UPDATE sale_order SET state = 'sale' WHERE id = $1`, order)
	if !isSerializationFailure(err) {
		t.Fatalf("Odoo's update after a flag written under it: %v, want a serialization failure", err)
	}
	_ = tx.Rollback(ctx)
}
