package migrate_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/odoosim"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
)

// captureTriggers are the triggers whose cost BenchmarkCaptureOverhead measures.
var captureTriggers = []struct{ table, trigger string }{
	{"sale_order", "whatsapp_sidecar_capture_insert"}, {"sale_order", "whatsapp_sidecar_capture_update"},
	{"account_move", "whatsapp_sidecar_capture_insert"}, {"account_move", "whatsapp_sidecar_capture_update"},
}

const (
	// insertBulkOrders makes the 1,000 draft orders "update1000" changes.
	insertBulkOrders = `
		INSERT INTO sale_order (company_id, currency_id, date_order, name, partner_id, partner_invoice_id,
			partner_shipping_id, pricelist_id, state)
		SELECT 1, 41, now() AT TIME ZONE 'utc', 'BULK' || g, 42, 42, 42, 1, 'draft' FROM generate_series(1, 1000) g`
	selectBulkOrders = `SELECT id FROM sale_order WHERE name LIKE 'BULK%' ORDER BY id`
	// bulkStateUpdate is what the ORM sends for a mass action on 1,000 orders.
	bulkStateUpdate = `UPDATE sale_order SET state = $2, write_date = now() AT TIME ZONE 'utc', write_uid = 2 WHERE id = ANY($1)`
	// cleanQueue empties the event queue as the composer would; VACUUM (below) then
	// gives both databases' tables the same state.
	cleanQueue  = `TRUNCATE whatsapp_sidecar.event`
	vacuumChurn = `VACUUM sale_order, account_move`
)

// BenchmarkCaptureOverhead measures what the capture triggers cost Odoo: "trace" is
// the ORM trace's seven user actions, "update1000" one ORM write of 1,000 orders'
// state (every row changes, so the trigger records them all). Each runs on two
// clones of the same database, one with the triggers and one without, interleaved
// in the same run (alternately first, so order effects and machine noise fall on
// both alike). The triggers are never toggled with ALTER TABLE: that invalidates
// the trigger functions' cached plans at every switch, so the "on" half would pay a
// replanning a running Odoo never pays. Read overhead_% or, on a shared machine,
// median_overhead_% (the goal is 5 % or less); TestCapture* check that nothing is
// lost. On a PostgreSQL cluster shared with other clients, PGTEST_THROWAWAY=1
// keeps their work (checkpoints, notifications) off the "on" side's commits.
func BenchmarkCaptureOverhead(b *testing.B) {
	ctx := context.Background()
	on, off := pgtest.NewDB(b, pgtest.Sidecar), pgtest.NewDB(b, pgtest.Sidecar)
	for _, t := range captureTriggers {
		off.Exec(b, "DROP TRIGGER "+t.trigger+" ON "+t.table)
	}
	path, err := pgtest.OdooFile("orm_trace.sql")
	if err != nil {
		b.Fatal(err)
	}
	steps, err := odoosim.LoadTrace(path)
	if err != nil {
		b.Fatal(err)
	}
	bulk := map[*pgxpool.Pool][]int{}
	for _, db := range []*pgtest.DB{on, off} {
		db.Exec(b, insertBulkOrders)
		pool := db.Pool(b)
		rows, err := pool.Query(ctx, selectBulkOrders)
		if err != nil {
			b.Fatal(err)
		}
		var ids []int
		for rows.Next() {
			var id int
			if err := rows.Scan(&id); err != nil {
				b.Fatal(err)
			}
			ids = append(ids, id)
		}
		if rows.Close(); rows.Err() != nil {
			b.Fatal(rows.Err())
		}
		bulk[pool] = ids
		db.Exec(b, `VACUUM ANALYZE`)
	}
	cleaner := func(every int) func(b *testing.B, i int) {
		return func(b *testing.B, i int) {
			if i%every != every-1 {
				return
			}
			for _, db := range []*pgtest.DB{on, off} {
				db.Exec(b, cleanQueue)
				db.Exec(b, vacuumChurn)
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
	// Each database gets one update per iteration: its orders go sale, draft, sale...
	flips := map[*pgxpool.Pool]int{}
	state := []string{"sale", "draft"}
	bulkUpdate := func(b *testing.B, pool *pgxpool.Pool) {
		flips[pool]++
		if _, err := pool.Exec(ctx, bulkStateUpdate, bulk[pool], state[flips[pool]%2]); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("trace", func(b *testing.B) { interleaveClean(b, on, off, trace, cleaner(25)) })
	b.Run("update1000", func(b *testing.B) { interleaveClean(b, on, off, bulkUpdate, cleaner(5)) })
}

// interleaveClean is interleave with between run after each iteration's pair,
// untimed: it keeps both databases' tables in the same state (queue emptied,
// churn vacuumed) however long the benchmark runs. Besides the ratio of the
// totals it reports the ratio of the medians of the samples (median_overhead_%):
// on a machine shared with other work, a stall (another client's checkpoint, a
// CREATE DATABASE) lands on one sample of one side and moves the totals, not the
// medians.
func interleaveClean(b *testing.B, with, without *pgtest.DB, work func(b *testing.B, pool *pgxpool.Pool), between func(b *testing.B, i int)) {
	pools := map[bool]*pgxpool.Pool{true: with.Pool(b), false: without.Pool(b)}
	work(b, pools[true]) // both connections warm: plans cached, as in a running Odoo
	work(b, pools[false])
	var off, on time.Duration
	var offs, ons []time.Duration
	for i := 0; b.Loop(); i++ {
		for _, trigger := range []bool{i%2 == 0, i%2 != 0} {
			start := time.Now()
			work(b, pools[trigger])
			d := time.Since(start)
			if trigger {
				on += d
				ons = append(ons, d)
			} else {
				off += d
				offs = append(offs, d)
			}
		}
		if between != nil {
			b.StopTimer()
			between(b, i)
			b.StartTimer()
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(off.Microseconds())/n, "off_us/op")
	b.ReportMetric(float64(on.Microseconds())/n, "on_us/op")
	b.ReportMetric(100*(float64(on)/float64(off)-1), "overhead_%")
	b.ReportMetric(100*(float64(median(ons))/float64(median(offs))-1), "median_overhead_%")
}

// median of samples (the upper one of an even count).
func median(samples []time.Duration) time.Duration {
	s := slices.Clone(samples)
	slices.Sort(s)
	return s[len(s)/2]
}
