package inbox_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/inbox"
)

// BenchmarkClaimAfterABacklog is the inbox processor's step (store a few
// deliveries, claim them, mark them processed) on an inbox already holding 20,000
// processed deliveries that no VACUUM has cleaned up yet (autovacuum off on it), as
// a busy hour between two autovacuum runs leaves it. "due_by_id" has the index the
// claim uses since migration 037; "by_available_at" the one before it, put back for
// the comparison: PostgreSQL read that one with a bitmap scan, which walks every
// dead entry at every claim.
func BenchmarkClaimAfterABacklog(b *testing.B) {
	for _, index := range []struct{ name, drop, create string }{
		{name: "due_by_id"},
		{"by_available_at", `DROP INDEX whatsapp_sidecar.inbox_due_idx`,
			`CREATE INDEX inbox_pending_idx ON whatsapp_sidecar.inbox (available_at, id) WHERE processed_at IS NULL`},
	} {
		b.Run(index.name, func(b *testing.B) {
			ctx := context.Background()
			db := pgtest.NewDB(b, pgtest.Sidecar)
			db.Exec(b, `ALTER TABLE whatsapp_sidecar.inbox SET (autovacuum_enabled = false)`)
			if index.drop != "" {
				db.Exec(b, index.drop)
				db.Exec(b, index.create)
			}
			o := acquire(b, db)
			pool := db.Pool(b)
			body := bytes.Repeat([]byte("x"), 900) // about a status delivery's size
			step := func(n int) {
				bodies, sigs := make([][]byte, n), make([]string, n)
				for i := range bodies {
					bodies[i], sigs[i] = body, "sha256=x"
				}
				if err := inbox.Store(ctx, pool, bodies, sigs); err != nil {
					b.Fatal(err)
				}
				got, err := inbox.Claim(ctx, o, n)
				if err != nil || len(got) != n {
					b.Fatalf("claim: %d of %d, %v", len(got), n, err)
				}
				ids := make([]int64, len(got))
				for i, d := range got {
					ids[i] = d.ID
				}
				if err := inbox.ProcessedMany(ctx, pool, ids); err != nil {
					b.Fatal(err)
				}
			}
			for range 20000 / 250 {
				step(250)
			}
			b.ResetTimer()
			for b.Loop() {
				step(10)
			}
		})
	}
}
