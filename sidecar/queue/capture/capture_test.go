package capture_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/capture"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// A capture is claimed by one transaction at a time, acted on once (deleted with
// what it did), and one that failed waits for its retry time.
func TestClaimDeleteRetry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t, pgtest.Sidecar)
	pool := db.Pool(t)
	db.Exec(t, `INSERT INTO whatsapp_sidecar.discuss_capture (kind, res_ids) VALUES ('message', '{7}'), ('message', '{8,9}')`)

	first, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Rollback(ctx)
	got, err := capture.Claim(ctx, first, 1)
	if err != nil || len(got) != 1 || got[0].ResIDs[0] != 7 {
		t.Fatalf("first claim %+v, %v; want the oldest capture", got, err)
	}
	err = pgx.BeginFunc(ctx, pool, func(second pgx.Tx) error {
		other, err := capture.Claim(ctx, second, 10)
		if err != nil {
			return err
		}
		if len(other) != 1 || len(other[0].ResIDs) != 2 {
			t.Errorf("second claim %+v, want only the capture the first does not hold", other)
		}
		return capture.Retry(ctx, second, other[0], time.Now().Add(time.Hour), "Odoo refused")
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := capture.Delete(ctx, first, got[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := first.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		due, err := capture.Claim(ctx, tx, 10)
		if len(due) != 0 {
			t.Errorf("claimed %+v, want none: one deleted, one waiting for its retry", due)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := capture.Pending(ctx, pool); err != nil || n != 1 {
		t.Errorf("%d pending, %v; want the one waiting", n, err)
	}
}
