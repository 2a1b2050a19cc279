package outbox_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/outbox"
)

// FlagsWritten and NotesWritten take their rows' locks in id order, as a status
// batch and the Discuss worker do: blocked on a higher row, they already hold the
// lower one. Taken in the order of the rows on disk, the higher first, they
// deadlocked with a status batch holding the lower row and wanting the higher.
func TestWrittenLocksInIDOrder(t *testing.T) {
	t.Parallel()
	for name, written := range map[string]func(context.Context, outbox.DBTX, []int) error{
		"flags": outbox.FlagsWritten, "notes": outbox.NotesWritten,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t)
			ids := b.queue(t, "+221770000001", "+221770000002")
			low, high := ids[0], ids[1]
			// The newest version of the lower row goes after the higher one's on disk.
			b.db.Exec(t, `UPDATE whatsapp_message SET flags_pending = true, note_pending = true WHERE id = $1`, high)
			b.db.Exec(t, `UPDATE whatsapp_message SET flags_pending = true, note_pending = true WHERE id = $1`, low)

			holder, err := b.db.Conn(t).Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer holder.Rollback(ctx)
			if _, err := holder.Exec(ctx, `SELECT 1 FROM whatsapp_message WHERE id = $1 FOR UPDATE`, high); err != nil {
				t.Fatal(err)
			}
			writer := b.db.Conn(t)
			pid := writer.PgConn().PID()
			done := make(chan error, 1)
			go func() {
				done <- pgx.BeginFunc(ctx, writer, func(tx pgx.Tx) error { return written(ctx, tx, []int{low, high}) })
			}()
			pgtest.Eventually(t, "the writer waiting for the higher row", func() bool {
				var waiting bool
				err := b.db.Pool(t).QueryRow(ctx, `SELECT COALESCE(wait_event_type = 'Lock', false) FROM pg_stat_activity WHERE pid = $1`, pid).Scan(&waiting)
				return err == nil && waiting
			})
			probe, err := b.db.Pool(t).Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, err = probe.Exec(ctx, `SELECT 1 FROM whatsapp_message WHERE id = $1 FOR UPDATE NOWAIT`, low)
			_ = probe.Rollback(ctx)
			if err == nil {
				t.Error("waiting for the higher row, the writer did not hold the lower one: it locks out of id order")
			}
			if err := holder.Rollback(ctx); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}
