package migrate_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/odoosim"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
)

type event struct {
	Model, Kind        string
	ResID              int
	OldValue, NewValue string
}

func (e event) String() string {
	return fmt.Sprintf("%s %s(%d) %s->%s", e.Kind, e.Model, e.ResID, e.OldValue, e.NewValue)
}

// recordedEvents lists the queue one event per record: a capture trigger writes one
// row per statement and kind, with the ids of every record the statement changed.
const recordedEvents = `
SELECT e.id, r.n, e.model, e.kind, COALESCE(r.res_id, e.res_id), COALESCE(r.old_value, e.old_value, ''),
    COALESCE(r.new_value, e.new_value, '')
FROM whatsapp_sidecar.event e
LEFT JOIN LATERAL unnest(e.res_ids, e.old_values, e.new_values) WITH ORDINALITY AS r(res_id, old_value, new_value, n) ON true`

// takeEvents returns the queued events, one per record in the order of capture, and
// empties the queue.
func takeEvents(t *testing.T, conn *pgx.Conn) []event {
	t.Helper()
	ctx := context.Background()
	rows, err := conn.Query(ctx, recordedEvents+` ORDER BY e.id, r.n`)
	if err != nil {
		t.Fatal(err)
	}
	var events []event
	for rows.Next() {
		var e event
		var id int64
		var n *int64
		if err := rows.Scan(&id, &n, &e.Model, &e.Kind, &e.ResID, &e.OldValue, &e.NewValue); err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `DELETE FROM whatsapp_sidecar.event`); err != nil {
		t.Fatal(err)
	}
	return events
}

func sameEvents(got, want []event) bool {
	return fmt.Sprint(got) == fmt.Sprint(want)
}

// The ORM trace, transaction by transaction: each user action gives exactly the
// events the pipeline needs, and the record read after commit is final.
func TestCaptureReplaysTheORMTrace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t, pgtest.Sidecar)
	conn := db.Conn(t)
	path, err := pgtest.OdooFile("orm_trace.sql")
	if err != nil {
		t.Fatal(err)
	}
	steps, err := odoosim.LoadTrace(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 7 {
		t.Fatalf("trace has %d steps, want 7", len(steps))
	}
	cancelled, err := odoosim.NewQuotation(ctx, conn, odoosim.PartnerMoussa, 10000, 1800)
	if err != nil {
		t.Fatal(err)
	}
	takeEvents(t, conn)

	replay := odoosim.NewReplay()
	replay.Map("sale_order", 22, cancelled)
	order := func() int { return replay.ID("sale_order", 21) }
	invoice := func() int { return replay.ID("account_move", 31) }
	want := map[int]func() []event{
		1: func() []event { return []event{{"sale.order", "order_created", order(), "", "draft"}} },
		2: func() []event { return []event{{"sale.order", "order_state", order(), "draft", "sale"}} },
		3: func() []event { return nil }, // a draft invoice notifies nobody
		4: func() []event { return []event{{"account.move", "invoice_posted", invoice(), "draft", "posted"}} },
		5: func() []event { return []event{{"account.move", "invoice_residual", invoice(), "53100", "43100"}} },
		6: func() []event { return []event{{"account.move", "invoice_residual", invoice(), "43100", "8100"}} },
		7: func() []event { return []event{{"sale.order", "order_state", cancelled, "draft", "cancel"}} },
	}
	for _, step := range steps {
		if err := replay.Run(ctx, conn, step); err != nil {
			t.Fatal(err)
		}
		got := takeEvents(t, conn)
		if w := want[step.Number](); !sameEvents(got, w) {
			t.Errorf("step %d (%s): events %v, want %v", step.Number, step.Title, got, w)
		}
		if step.Number == 4 {
			// Odoo set state before the name: read after commit, the name is final.
			var name string
			if err := conn.QueryRow(ctx, `SELECT name FROM account_move WHERE id = $1`, invoice()).Scan(&name); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(name, "INV/") || name != replay.Name("INV/2026/00005") {
				t.Errorf("posted invoice read after commit is named %q, want the final INV/... name", name)
			}
		}
	}
}

func TestCaptureIgnoresWhatNotifiesNobody(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		write func(ctx context.Context, tx pgx.Tx) error
	}{
		{"SidecarFlagsOnOrder", exec(`UPDATE sale_order SET x_whatsapp_creation_sent = true, x_whatsapp_creation_sent_date = now() WHERE id IN (21, 25, 26)`)},
		{"SidecarFlagsOnInvoice", exec(`UPDATE account_move SET x_whatsapp_invoice_sent = true, x_whatsapp_unpaid_reminder_count = 2 WHERE id IN (31, 32, 33)`)},
		{"OrderWriteWithoutStateChange", exec(`UPDATE sale_order SET note = 'livraison lundi', state = state WHERE id = 26`)},
		{"VendorBillPosted", exec(`UPDATE account_move SET state = 'posted' WHERE move_type = 'in_invoice' AND state = 'draft'`)},
		{"PaymentEntryPostedAndReconciled", exec(`UPDATE account_move SET state = 'posted', amount_residual = 0 WHERE move_type = 'entry'`)},
		{"DraftInvoiceAmountChanged", func(ctx context.Context, tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `UPDATE account_move SET amount_residual = 1 WHERE move_type = 'out_invoice' AND state = 'draft'`)
			return err
		}},
		{"PartnerPhoneChanged", exec(`UPDATE res_partner SET mobile = '+221 77 000 00 00' WHERE id = 42`)},
	}
	db := pgtest.NewDB(t, pgtest.Sidecar)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			tx, err := db.Pool(t).Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			if err := c.write(ctx, tx); err != nil {
				t.Fatal(err)
			}
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM whatsapp_sidecar.event`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("%d events recorded, want none", n)
			}
		})
	}
}

func exec(sql string) func(context.Context, pgx.Tx) error {
	return func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, sql)
		if err == nil && tag.RowsAffected() == 0 {
			return fmt.Errorf("%q touched no row: the case tests nothing", sql)
		}
		return err
	}
}

func TestCaptureRolledBackTransactionLeavesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t, pgtest.Sidecar)
	listener := listen(t, db)
	tx, err := db.Pool(t).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := odoosim.NewQuotation(ctx, tx, odoosim.PartnerAwa, 1000, 180); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	db.QueryRow(t, []any{&n}, `SELECT count(*) FROM whatsapp_sidecar.event`)
	if n != 0 {
		t.Errorf("%d events after rollback, want 0", n)
	}
	if got := listener.drain(t, db); len(got) != 0 {
		t.Errorf("notifications after rollback: %v, want none", got)
	}
}

// One ORM write of many rows costs one queue insert and one notification.
func TestCaptureBulkWriteIsOneNotification(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t, pgtest.Sidecar)
	listener := listen(t, db)
	db.Exec(t, `
		INSERT INTO sale_order (company_id, currency_id, date_order, name, partner_id, partner_invoice_id,
			partner_shipping_id, pricelist_id, state)
		SELECT 1, 41, now() AT TIME ZONE 'utc', 'BULK' || g, 42, 42, 42, 1, 'draft' FROM generate_series(1, 1000) g`)
	db.Exec(t, `UPDATE sale_order SET state = 'sale' WHERE name LIKE 'BULK%'`)

	var created, confirmed int
	db.QueryRow(t, []any{&created, &confirmed}, `
		SELECT count(*) FILTER (WHERE kind = 'order_created'), count(*) FILTER (WHERE kind = 'order_state' AND new_value = 'sale')
		FROM (`+recordedEvents+`) AS e(id, n, model, kind, res_id, old_value, new_value)`)
	if created != 1000 || confirmed != 1000 {
		t.Errorf("events: %d order_created, %d order_state; want 1000 each", created, confirmed)
	}
	var rows int
	db.QueryRow(t, []any{&rows}, `SELECT count(*) FROM whatsapp_sidecar.event`)
	if rows != 2 {
		t.Errorf("the two statements inserted %d queue rows into Odoo's transactions, want 2 (one each)", rows)
	}
	if got := listener.drain(t, db); len(got) != 2 {
		t.Errorf("notifications %v, want exactly one per statement (2)", got)
	}
	_ = ctx
}

// A mass write on a connection whose first writes were of one row each: the
// trigger's statement, planned once per connection with the first call's sizes,
// still records every row once, with its old and new state (and in linear time:
// BenchmarkCaptureOverhead's update1000 follows its one-row trace on one pool).
func TestCaptureMassWriteAfterOneRowWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t, pgtest.Sidecar)
	conn := db.Conn(t)
	for _, stmt := range []string{`
		INSERT INTO sale_order (company_id, currency_id, date_order, name, partner_id, partner_invoice_id,
			partner_shipping_id, pricelist_id, state)
		SELECT 1, 41, now() AT TIME ZONE 'utc', 'BULK' || g, 42, 42, 42, 1, 'draft' FROM generate_series(1, 1000) g`,
		`UPDATE sale_order SET state = 'sent' WHERE name = 'BULK1'`,
		`UPDATE sale_order SET state = 'draft' WHERE name = 'BULK1'`,
		`UPDATE sale_order SET state = 'sent' WHERE name = 'BULK2'`,
		`UPDATE sale_order SET state = 'sale' WHERE name LIKE 'BULK%'`,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	var confirmed, orders, fromSent int
	db.QueryRow(t, []any{&confirmed, &orders, &fromSent}, `
		SELECT count(*), count(DISTINCT res_id), count(*) FILTER (WHERE old_value = 'sent')
		FROM (`+recordedEvents+`) AS e(id, n, model, kind, res_id, old_value, new_value)
		WHERE kind = 'order_state' AND new_value = 'sale'`)
	if confirmed != 1000 || orders != 1000 || fromSent != 1 {
		t.Errorf("mass confirmation: %d events for %d orders, %d of them from 'sent'; want 1000, 1000, 1", confirmed, orders, fromSent)
	}
}

type notifications struct{ conn *pgx.Conn }

func listen(t *testing.T, db *pgtest.DB) *notifications {
	t.Helper()
	conn := db.Conn(t)
	if _, err := conn.Exec(context.Background(), `LISTEN whatsapp_sidecar`); err != nil {
		t.Fatal(err)
	}
	return &notifications{conn: conn}
}

// drain returns the payloads received so far: it sends a sentinel notification from
// another session and reads up to it (notifications arrive in commit order), so it
// waits on a signal, not on time.
func (n *notifications) drain(t *testing.T, db *pgtest.DB) []string {
	t.Helper()
	db.Exec(t, `SELECT pg_notify('whatsapp_sidecar', 'sentinel')`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []string
	for {
		msg, err := n.conn.WaitForNotification(ctx)
		if err != nil {
			t.Fatalf("waiting for notifications: %v", err)
		}
		if msg.Payload == "sentinel" {
			return got
		}
		got = append(got, msg.Payload)
	}
}
