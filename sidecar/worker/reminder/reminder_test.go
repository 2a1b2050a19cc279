package reminder_test

import (
	"context"
	"fmt"
	"sort"
	"testing"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/accounts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/odoosim"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/config"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/reminder"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func reminded(t *testing.T, db *pgtest.DB) []string {
	t.Helper()
	rows, err := db.Pool(t).Query(context.Background(), `
		SELECT res_id || '#' || new_value FROM whatsapp_sidecar.event WHERE kind = 'invoice_reminder'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func TestRemindersOncePerIntervalUpToTheMaximum(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t, pgtest.Sidecar)
	// Only the invoices added to the demo (31: due 10 days ago, 32: partly paid,
	// 33: paid) belong to this test: the older demo invoices get a later due date.
	db.Exec(t, `UPDATE account_move SET invoice_date_due = current_date WHERE id < 31`)
	db.Exec(t, `UPDATE account_move SET invoice_date_due = current_date - 10 WHERE id IN (31, 32, 33)`)
	db.Exec(t, `INSERT INTO whatsapp_config (name, phone_number_id, company_id, auto_send_unpaid_invoices,
		unpaid_invoice_days, unpaid_reminder_interval_days, unpaid_reminder_max_count)
		VALUES ('Boutique', '1065', 1, true, 7, 7, 2)`)
	reg := accounts.New(accounts.Options{Env: config.WhatsApp{}})
	if err := reg.Load(ctx, db.Pool(t)); err != nil {
		t.Fatal(err)
	}
	s := &reminder.Scheduler{Pool: db.Pool(t), Accounts: reg}
	pass := func() []string {
		t.Helper()
		db.Exec(t, `DELETE FROM whatsapp_sidecar.event`)
		if _, err := s.Pass(ctx); err != nil {
			t.Fatal(err)
		}
		return reminded(t, db)
	}
	want := []string{fmt.Sprintf("%d#1", odoosim.InvoiceNotPaid), fmt.Sprintf("%d#1", odoosim.InvoicePartPaid)}
	if got := pass(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("first pass reminds %v, want %v (overdue 10 days, not paid; the paid one excluded)", got, want)
	}
	// Both reminders sent today: nothing until the interval has passed.
	db.Exec(t, `UPDATE account_move SET x_whatsapp_unpaid_reminder_count = 1,
		x_whatsapp_unpaid_reminder_sent_date = now() AT TIME ZONE 'utc' WHERE id IN (31, 32)`)
	if got := pass(); len(got) != 0 {
		t.Errorf("pass right after the reminders: %v, want none", got)
	}
	db.Exec(t, `UPDATE account_move SET x_whatsapp_unpaid_reminder_sent_date = x_whatsapp_unpaid_reminder_sent_date - interval '8 days'`)
	want = []string{fmt.Sprintf("%d#2", odoosim.InvoiceNotPaid), fmt.Sprintf("%d#2", odoosim.InvoicePartPaid)}
	if got := pass(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("pass after the interval: %v, want %v", got, want)
	}
	// The maximum (2) reached: no third reminder.
	db.Exec(t, `UPDATE account_move SET x_whatsapp_unpaid_reminder_count = 2,
		x_whatsapp_unpaid_reminder_sent_date = now() AT TIME ZONE 'utc' - interval '30 days' WHERE id IN (31, 32)`)
	if got := pass(); len(got) != 0 {
		t.Errorf("pass after the maximum: %v, want none", got)
	}
}

func TestNoRemindersWhenSwitchedOff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t, pgtest.Sidecar)
	db.Exec(t, `INSERT INTO whatsapp_config (name, phone_number_id, company_id, auto_send_unpaid_invoices) VALUES ('Boutique', '1065', 1, false)`)
	reg := accounts.New(accounts.Options{})
	if err := reg.Load(ctx, db.Pool(t)); err != nil {
		t.Fatal(err)
	}
	if n, err := (&reminder.Scheduler{Pool: db.Pool(t), Accounts: reg}).Pass(ctx); err != nil || n != 0 {
		t.Errorf("Pass = %d, %v; want 0 reminders with auto_send_unpaid_invoices off", n, err)
	}
}
