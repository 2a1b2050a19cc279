package events_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/odoosim"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/events"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// A batch is the claiming transaction's: another composer skips it, and when the
// transaction ends without deleting it (a crash, a rollback) it is due again at
// once.
func TestClaimLivesAndDiesWithItsTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t, pgtest.Sidecar)
	if _, err := odoosim.NewQuotation(ctx, db.Pool(t), odoosim.PartnerAwa, 1000, 180); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Pool(t).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := events.Claim(ctx, tx, 10)
	if err != nil || len(got) != 1 || got[0].Kind != "order_created" {
		t.Fatalf("claim: %+v, %v", got, err)
	}
	other, err := db.Pool(t).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := events.Claim(ctx, other, 10); err != nil || len(again) != 0 {
		t.Fatalf("a claimed event was claimed twice: %+v, %v", again, err)
	}
	other.Rollback(ctx)
	tx.Rollback(ctx) // the composer died mid-batch
	err = pgx.BeginFunc(ctx, db.Pool(t), func(tx pgx.Tx) error {
		again, err := events.Claim(ctx, tx, 10)
		if err != nil || len(again) != 1 {
			t.Fatalf("after the rollback: %+v, %v", again, err)
		}
		return events.Delete(ctx, tx, []int64{again[0].ID})
	})
	if err != nil {
		t.Fatal(err)
	}
	var left int
	db.QueryRow(t, []any{&left}, `SELECT count(*) FROM whatsapp_sidecar.event`)
	if left != 0 {
		t.Errorf("%d events left after the batch was composed", left)
	}
}

// A failing event waits for its retry, and Forever parks it.
func TestRetryAndPark(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t, pgtest.Sidecar)
	if _, err := odoosim.NewQuotation(ctx, db.Pool(t), odoosim.PartnerAwa, 1000, 180); err != nil {
		t.Fatal(err)
	}
	var e events.Event
	_ = pgx.BeginFunc(ctx, db.Pool(t), func(tx pgx.Tx) error {
		got, err := events.Claim(ctx, tx, 1)
		if err != nil || len(got) != 1 {
			t.Fatal(got, err)
		}
		e = got[0]
		return nil
	})
	if err := events.Retry(ctx, db.Pool(t), e, time.Now().Add(time.Hour), "boom"); err != nil {
		t.Fatal(err)
	}
	_ = pgx.BeginFunc(ctx, db.Pool(t), func(tx pgx.Tx) error {
		if got, _ := events.Claim(ctx, tx, 1); len(got) != 0 {
			t.Errorf("an event waiting for its retry was claimed")
		}
		return nil
	})
	if err := events.Retry(ctx, db.Pool(t), e, events.Forever, "boom"); err != nil {
		t.Fatal(err)
	}
	var attempts int
	var lastError string
	db.QueryRow(t, []any{&attempts, &lastError}, `SELECT attempts, last_error FROM whatsapp_sidecar.event WHERE id = $1`, e.ID)
	if attempts != 1 || lastError != "boom" {
		t.Errorf("attempts %d, last_error %q", attempts, lastError)
	}
}
