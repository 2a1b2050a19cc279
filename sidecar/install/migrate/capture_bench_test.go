package migrate_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/odoosim"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
)

// BenchmarkCaptureOverhead measures what the capture triggers cost Odoo: the ORM
// trace's seven user actions, and one ORM write of 1,000 orders, with the
// triggers and with them disabled, on the same database in the same run. Compare
// the ns/op of the triggers=on and triggers=off halves (the goal is 5 % or less).
func BenchmarkCaptureOverhead(b *testing.B) {
	ctx := context.Background()
	db := pgtest.NewDB(b, pgtest.Sidecar)
	pool := db.Pool(b)
	path, err := pgtest.OdooFile("orm_trace.sql")
	if err != nil {
		b.Fatal(err)
	}
	steps, err := odoosim.LoadTrace(path)
	if err != nil {
		b.Fatal(err)
	}
	db.Exec(b, `
		INSERT INTO sale_order (company_id, currency_id, date_order, name, partner_id, partner_invoice_id,
			partner_shipping_id, pricelist_id, state)
		SELECT 1, 41, now() AT TIME ZONE 'utc', 'BULK' || g, 42, 42, 42, 1, 'draft' FROM generate_series(1, 1000) g`)
	var bulk []int
	rows, err := pool.Query(ctx, `SELECT id FROM sale_order WHERE name LIKE 'BULK%'`)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var id int
		rows.Scan(&id)
		bulk = append(bulk, id)
	}
	rows.Close()

	setTriggers := func(b *testing.B, on bool) {
		verb := "DISABLE"
		if on {
			verb = "ENABLE"
		}
		for _, table := range []string{"sale_order", "account_move"} {
			for _, trigger := range []string{"whatsapp_sidecar_capture_insert", "whatsapp_sidecar_capture_update"} {
				db.Exec(b, "ALTER TABLE "+table+" "+verb+" TRIGGER "+trigger)
			}
		}
	}
	trace := func(b *testing.B, pool *pgxpool.Pool) {
		replay := odoosim.NewReplay()
		cancel, err := odoosim.NewQuotation(ctx, pool, odoosim.PartnerMoussa, 1000, 180)
		if err != nil {
			b.Fatal(err)
		}
		replay.Map("sale_order", 22, cancel)
		for _, step := range steps {
			if err := replay.Run(ctx, pool, step); err != nil {
				b.Fatal(err)
			}
		}
	}
	state := []string{"sale", "draft"}
	bulkUpdate := func(b *testing.B, i int) {
		// What the ORM sends for a mass action on 1,000 orders.
		if _, err := pool.Exec(ctx, `UPDATE sale_order SET state = $2, write_date = now() AT TIME ZONE 'utc', write_uid = 2 WHERE id = ANY($1)`,
			bulk, state[i%2]); err != nil {
			b.Fatal(err)
		}
	}
	for _, on := range []bool{false, true} {
		name := "triggers=off"
		if on {
			name = "triggers=on"
		}
		b.Run("trace/"+name, func(b *testing.B) {
			setTriggers(b, on)
			clean(b, db)
			for i := 0; b.Loop(); i++ {
				trace(b, pool)
				if i%50 == 49 {
					b.StopTimer()
					clean(b, db)
					b.StartTimer()
				}
			}
		})
		b.Run("update1000/"+name, func(b *testing.B) {
			setTriggers(b, on)
			clean(b, db)
			for i := 0; b.Loop(); i++ {
				bulkUpdate(b, i)
				if i%10 == 9 {
					b.StopTimer()
					clean(b, db)
					b.StartTimer()
				}
			}
		})
	}
}

// clean empties the event queue (as the composer would) and vacuums what the
// benchmark churns, so both halves run on tables in the same state.
func clean(b *testing.B, db *pgtest.DB) {
	b.Helper()
	db.Exec(b, `TRUNCATE whatsapp_sidecar.event`)
	db.Exec(b, `VACUUM sale_order, account_move`)
}
