package migrate_test

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/odoosim"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
)

// BenchmarkDiscussCaptureOverhead measures what the Discuss capture trigger on
// mail_message (one of Odoo's busiest tables) costs Odoo's own message_post on a
// record: the 89 statements Odoo 16 sent for a comment on an order (step 1 of
// testdata/odoo16/discuss_trace.sql, SELECTs included), with the trigger and with
// it disabled, interleaved in the same run. Each replay runs in one transaction
// rolled back at the end, so every iteration finds the same tables (the followers
// row it inserts stays new). Read overhead_% (the goal is 5 % or less).
func BenchmarkDiscussCaptureOverhead(b *testing.B) {
	ctx := context.Background()
	db := pgtest.NewDB(b, pgtest.Sidecar)
	pool := db.Pool(b)
	path, err := pgtest.OdooFile("discuss_trace.sql")
	if err != nil {
		b.Fatal(err)
	}
	steps, err := odoosim.LoadTrace(path)
	if err != nil {
		b.Fatal(err)
	}
	post := steps[0]
	// The recorded database had no follower of order 1 yet; here the demo data has.
	db.Exec(b, `DELETE FROM mail_followers WHERE res_model = 'sale.order' AND res_id = 1 AND partner_id = 3`)
	// The ids the trace's INSERTs returned there, in order, per table.
	recorded := map[string][]int{"mail_message": {3639}, "mail_followers": {66}, "mail_mail": {17}, "mail_notification": {21}}
	replay := func(b *testing.B, pool *pgxpool.Pool) {
		tx, err := pool.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if err := replayPost(ctx, tx, post, recorded); err != nil {
			b.Fatal(err)
		}
	}
	setTrigger := func(b *testing.B, on bool) {
		verb := "DISABLE"
		if on {
			verb = "ENABLE"
		}
		db.Exec(b, "ALTER TABLE mail_message "+verb+" TRIGGER whatsapp_sidecar_capture_discuss")
	}
	var off, on time.Duration
	for i := 0; b.Loop(); i++ {
		for _, first := range []bool{i%2 == 0, i%2 != 0} {
			b.StopTimer()
			setTrigger(b, first)
			b.StartTimer()
			start := time.Now()
			replay(b, pool)
			if first {
				on += time.Since(start)
			} else {
				off += time.Since(start)
			}
		}
	}
	setTrigger(b, true)
	n := float64(b.N)
	b.ReportMetric(float64(off.Microseconds())/n, "off_us/op")
	b.ReportMetric(float64(on.Microseconds())/n, "on_us/op")
	b.ReportMetric(100*(float64(on)/float64(off)-1), "overhead_%")
}

var (
	insertTable = regexp.MustCompile(`^INSERT INTO "(\w+)"`)
	number      = regexp.MustCompile(`\b\d+\b`)
)

// replayPost runs a recorded step in tx: each INSERT ... RETURNING "id" of a table
// in recorded takes fresh ids, and the recorded ids are rewritten to them in the
// statements after it.
func replayPost(ctx context.Context, tx pgx.Tx, step odoosim.Step, recorded map[string][]int) error {
	next := map[string]int{}
	fresh := map[string]string{} // recorded id -> replayed id
	for _, stmt := range step.Statements {
		if len(fresh) > 0 {
			stmt = number.ReplaceAllStringFunc(stmt, func(n string) string {
				if id, ok := fresh[n]; ok {
					return id
				}
				return n
			})
		}
		m := insertTable.FindStringSubmatch(stmt)
		if m == nil || !strings.HasSuffix(stmt, `RETURNING "id"`) {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("%.80s: %w", stmt, err)
			}
			continue
		}
		rows, err := tx.Query(ctx, stmt)
		if err != nil {
			return fmt.Errorf("%.80s: %w", stmt, err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int])
		if err != nil {
			return fmt.Errorf("%.80s: %w", stmt, err)
		}
		for _, id := range ids {
			if old := recorded[m[1]]; next[m[1]] < len(old) {
				fresh[strconv.Itoa(old[next[m[1]]])] = strconv.Itoa(id)
				next[m[1]]++
			}
		}
	}
	return nil
}
