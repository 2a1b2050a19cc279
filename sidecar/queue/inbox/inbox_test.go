package inbox_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/inbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/owner"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func acquire(t testing.TB, db *pgtest.DB) *owner.Owner {
	t.Helper()
	o, err := owner.Acquire(context.Background(), func(ctx context.Context) (*pgx.Conn, error) { return pgx.Connect(ctx, db.URL) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close(context.Background()) })
	return o
}

func store(t *testing.T, db *pgtest.DB, n int) {
	t.Helper()
	bodies, sigs := make([][]byte, n), make([]string, n)
	for i := range bodies {
		bodies[i], sigs[i] = []byte(`{"object":"whatsapp_business_account","entry":[]}`), "sha256=x"
	}
	if err := inbox.Store(context.Background(), db.Pool(t), bodies, sigs); err != nil {
		t.Fatal(err)
	}
}

// A delivery claimed by a processor that dies is the next processor's at once: no
// lease to wait for (the 5-minute lease of old made a crashed sidecar's status
// deliveries invisible long enough for their sends to be resent).
func TestClaimsDieWithTheirOwner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t, pgtest.Sidecar)
	store(t, db, 3)
	dead := acquire(t, db)
	got, err := inbox.Claim(ctx, dead, 10)
	if err != nil || len(got) != 3 {
		t.Fatalf("claim: %d, %v", len(got), err)
	}
	other := acquire(t, db)
	if got, err := inbox.Claim(ctx, other, 10); err != nil || len(got) != 0 {
		t.Fatalf("a live owner's deliveries were claimed again: %d, %v", len(got), err)
	}
	dead.Close(ctx)
	pgtest.Eventually(t, "the dead owner's lock released", func() bool {
		alive, err := owner.Alive(ctx, db.Pool(t), dead.ID)
		return err == nil && !alive
	})
	got, err = inbox.Claim(ctx, other, 10)
	if err != nil || len(got) != 3 || got[0].Attempts != 2 {
		t.Fatalf("after the owner died: %d deliveries (%v), want all 3 at attempt 2: %+v", len(got), err, got)
	}
}

// Settled deliveries are not claimed again; a retried one comes back when due; a
// parked one waits for an operator and blocks no resend (UnappliedBefore).
func TestSettleRetryPark(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t, pgtest.Sidecar)
	store(t, db, 3)
	o := acquire(t, db)
	got, err := inbox.Claim(ctx, o, 10)
	if err != nil || len(got) != 3 {
		t.Fatal(len(got), err)
	}
	if err := inbox.Processed(ctx, db.Pool(t), got[0].ID, ""); err != nil {
		t.Fatal(err)
	}
	if err := inbox.Retry(ctx, db.Pool(t), got[1].ID, 0, "database away"); err != nil {
		t.Fatal(err)
	}
	if err := inbox.Park(ctx, db.Pool(t), got[2].ID, "panic"); err != nil {
		t.Fatal(err)
	}
	again, err := inbox.Claim(ctx, o, 10)
	if err != nil || len(again) != 1 || again[0].ID != got[1].ID {
		t.Fatalf("claim after settling: %+v, %v; want only the retried delivery", again, err)
	}
	if err := inbox.Processed(ctx, db.Pool(t), got[1].ID, ""); err != nil {
		t.Fatal(err)
	}
	var unapplied bool
	db.QueryRow(t, []any{&unapplied}, `SELECT `+inbox.UnappliedBefore("now() + interval '1 hour'"))
	if unapplied {
		t.Error("a parked delivery counts as unapplied: it would hold every resend until an operator acts")
	}
}
