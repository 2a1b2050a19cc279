package migrate_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/odoosim"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
)

// BenchmarkCaptureOverhead measures what the capture triggers cost Odoo: the ORM
// trace's seven user actions, and one ORM write of 1,000 orders, with the
// triggers and with them disabled, on the same database in the same run. Compare
// off_us/op and on_us/op of one run, or read overhead_% (the goal is 5 % or less).
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
	// Each iteration runs the same work twice, triggers off then on (or on then
	// off, alternating), timing each: order effects and machine noise fall on both
	// halves alike, and the ratio is measured in one run.
	interleaved := func(b *testing.B, work func(b *testing.B, i int), cleanEvery int) {
		clean(b, db)
		var off, on time.Duration
		for i := 0; b.Loop(); i++ {
			for _, first := range []bool{i%2 == 0, i%2 != 0} {
				b.StopTimer()
				setTriggers(b, first)
				b.StartTimer()
				start := time.Now()
				work(b, i)
				if first {
					on += time.Since(start)
				} else {
					off += time.Since(start)
				}
			}
			if i%cleanEvery == cleanEvery-1 {
				b.StopTimer()
				clean(b, db)
				b.StartTimer()
			}
		}
		n := float64(b.N)
		b.ReportMetric(float64(off.Microseconds())/n, "off_us/op")
		b.ReportMetric(float64(on.Microseconds())/n, "on_us/op")
		b.ReportMetric(100*(float64(on)/float64(off)-1), "overhead_%")
		setTriggers(b, true)
	}
	b.Run("trace", func(b *testing.B) { interleaved(b, func(b *testing.B, _ int) { trace(b, pool) }, 25) })
	b.Run("update1000", func(b *testing.B) { interleaved(b, bulkUpdate, 5) })
}

// clean empties the event queue (as the composer would) and vacuums what the
// benchmark churns, so both halves run on tables in the same state.
func clean(b *testing.B, db *pgtest.DB) {
	b.Helper()
	db.Exec(b, `TRUNCATE whatsapp_sidecar.event`)
	db.Exec(b, `VACUUM sale_order, account_move`)
}
