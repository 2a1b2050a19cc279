package outbox_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/inbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/outbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/owner"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var hold = outbox.UnknownPolicy{}

type bundle struct {
	db *pgtest.DB
}

func setup(t *testing.T) *bundle {
	t.Helper()
	return &bundle{db: pgtest.NewDB(t, pgtest.Sidecar)}
}

// owner is a live owner on its own connection; kill ends it as a process death would.
func (b *bundle) owner(t *testing.T) *owner.Owner {
	t.Helper()
	o, err := owner.Acquire(context.Background(), func(ctx context.Context) (*pgx.Conn, error) { return pgx.Connect(ctx, b.db.URL) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close(context.Background()) })
	return o
}

// kill ends o as kill -9 ends its process: its connection closes, and PostgreSQL
// releases its lock when it notices, which the test waits for.
func (b *bundle) kill(t *testing.T, o *owner.Owner) {
	t.Helper()
	o.Close(context.Background())
	pgtest.Eventually(t, "the owner's lock released", func() bool {
		alive, err := owner.Alive(context.Background(), b.db.Pool(t), o.ID)
		return err == nil && !alive
	})
}

func (b *bundle) queue(t *testing.T, phones ...string) []int {
	t.Helper()
	var msgs []outbox.Message
	for _, p := range phones {
		msgs = append(msgs, outbox.Message{Message: notify.Message{Phone: p, Content: "hello " + p}})
	}
	ids, err := outbox.Enqueue(context.Background(), b.db.Pool(t), msgs...)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func (b *bundle) status(t *testing.T, id int) string {
	t.Helper()
	var s string
	b.db.QueryRow(t, []any{&s}, `SELECT status FROM whatsapp_message WHERE id = $1`, id)
	return s
}

// lostAnswer is a send whose answer o lost: claimed, dispatched, then unknown.
func (b *bundle) lostAnswer(t *testing.T, o *owner.Owner, id int, policy outbox.UnknownPolicy) {
	t.Helper()
	ctx := context.Background()
	if got := claim(t, o, 10); !slices.Contains(got, id) {
		t.Fatalf("claimed %v, not %d", got, id)
	}
	if _, err := outbox.Dispatch(ctx, o, []int{id}); err != nil {
		t.Fatal(err)
	}
	if err := outbox.MarkUnknown(ctx, b.db.Pool(t), o.ID, id, policy, "timeout"); err != nil {
		t.Fatal(err)
	}
}

func claim(t *testing.T, o *owner.Owner, limit int) []int {
	t.Helper()
	rows, err := outbox.Claim(context.Background(), o, limit, 4*limit)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int
	for _, c := range rows {
		ids = append(ids, c.ID)
	}
	return ids
}

// Two owners never claim the same row, and a customer's messages are claimed one
// at a time, in order: the next only once the previous left 'sending'.
func TestClaimIsExclusiveAndOnePerCustomer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ids := b.queue(t, "+221770000001", "+221770000001", "+221770000002")
	a, c := b.owner(t), b.owner(t)
	first := claim(t, a, 10)
	if !slices.Equal(first, []int{ids[0], ids[2]}) {
		t.Fatalf("first claim took %v, want the first message of each customer %v", first, []int{ids[0], ids[2]})
	}
	if got := claim(t, c, 10); len(got) != 0 {
		t.Fatalf("second owner claimed %v while the customers' previous messages are being sent", got)
	}
	if err := outbox.MarkSent(context.Background(), b.db.Pool(t), []outbox.Sent{{RowID: ids[0], WaMessageID: "wamid.1", At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, c, 10); !slices.Equal(got, []int{ids[1]}) {
		t.Fatalf("after the first was sent, the second owner claimed %v, want %v", got, []int{ids[1]})
	}
}

// Claims die with their owner: a row claimed and never dispatched is queued again
// at once; a dispatched one (its request may have reached Meta) becomes unknown,
// and under the hold policy is never claimed again by itself.
func TestRescueVoidsTheClaimsOfADeadOwner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	ids := b.queue(t, "+221770000011", "+221770000012")
	dead := b.owner(t)
	if got := claim(t, dead, 10); len(got) != 2 {
		t.Fatalf("claimed %v", got)
	}
	if mine, err := outbox.Dispatch(ctx, dead, []int{ids[1]}); err != nil || !slices.Equal(mine, []int{ids[1]}) {
		t.Fatalf("dispatch: %v, %v", mine, err)
	}
	// A live owner's rows are not touched.
	if r, err := outbox.Rescue(ctx, b.db.Pool(t), hold); err != nil || r.Requeued+r.Unknown != 0 {
		t.Fatalf("rescue of a live owner's rows: %+v, %v", r, err)
	}
	b.kill(t, dead)
	r, err := outbox.Rescue(ctx, b.db.Pool(t), hold)
	if err != nil || r.Requeued != 1 || r.Unknown != 1 {
		t.Fatalf("rescue: %+v, %v; want 1 requeued and 1 unknown", r, err)
	}
	if s0, s1 := b.status(t, ids[0]), b.status(t, ids[1]); s0 != "queued" || s1 != "unknown" {
		t.Fatalf("statuses %s, %s; want queued and unknown", s0, s1)
	}
	next := b.owner(t)
	if got := claim(t, next, 10); !slices.Equal(got, []int{ids[0]}) {
		t.Fatalf("the next owner claimed %v, want only the never-dispatched %d", got, ids[0])
	}
	// A dead owner cannot record a dispatch: its connection is gone.
	if _, err := outbox.Dispatch(ctx, dead, []int{ids[0]}); err == nil {
		t.Fatal("a closed owner recorded a dispatch")
	}
}

// Meta's status webhook settles a send of unknown fate (found by the row id in
// biz_opaque_callback_data), and it is then never resent.
func TestStatusWebhookSettlesAnUnknownSend(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	ids := b.queue(t, "+221770000021")
	b.lostAnswer(t, b.owner(t), ids[0], outbox.UnknownPolicy{ResendAfter: time.Hour})
	a, err := outbox.ApplyStatus(ctx, b.db.Pool(t), outbox.StatusUpdate{WaMessageID: "wamid.X", RowID: ids[0], Status: "sent", Timestamp: time.Now()})
	if err != nil || !a.Changed || a.NewStatus != "sent" {
		t.Fatalf("apply: %+v, %v", a, err)
	}
	b.db.Exec(t, `UPDATE whatsapp_message SET next_attempt_at = now() AT TIME ZONE 'utc' - interval '1 hour' WHERE id = $1`, ids[0])
	if got := claim(t, b.owner(t), 10); len(got) != 0 {
		t.Fatalf("a settled send was claimed again: %v", got)
	}
}

// The resend policy: an unknown row is sent again once its time has come, but not
// while a webhook delivery received before that time is stored and unapplied (it
// may be the status that settles it), and never under the hold policy.
func TestUnknownIsResentOnlyAfterItsTimeAndTheInbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	ids := b.queue(t, "+221770000031")
	b.lostAnswer(t, b.owner(t), ids[0], outbox.UnknownPolicy{ResendAfter: time.Hour})
	other := b.owner(t)
	if got := claim(t, other, 10); len(got) != 0 {
		t.Fatalf("resent before its time: %v", got)
	}
	// Its time has come; a delivery received before it waits unapplied.
	b.db.Exec(t, `UPDATE whatsapp_message SET next_attempt_at = now() AT TIME ZONE 'utc' - interval '1 minute' WHERE id = $1`, ids[0])
	if err := inbox.Store(ctx, b.db.Pool(t), [][]byte{[]byte(`{"object":"whatsapp_business_account","entry":[]}`)}, []string{"sha256=x"}); err != nil {
		t.Fatal(err)
	}
	b.db.Exec(t, `UPDATE whatsapp_sidecar.inbox SET received_at = now() - interval '2 minutes'`)
	if got := claim(t, other, 10); len(got) != 0 {
		t.Fatalf("resent while a delivery received before its resend time is unapplied: %v", got)
	}
	b.db.Exec(t, `UPDATE whatsapp_sidecar.inbox SET processed_at = now()`)
	rows, err := outbox.Claim(ctx, other, 10, 40)
	if err != nil || len(rows) != 1 || rows[0].ID != ids[0] || !rows[0].Resend {
		t.Fatalf("claim after the inbox caught up: %+v, %v; want the row, marked as a resend", rows, err)
	}

	// Held for a person: never claimed, whatever the time.
	held := b.queue(t, "+221770000032")
	b.lostAnswer(t, other, held[0], hold)
	if got := claim(t, b.owner(t), 10); slices.Contains(got, held[0]) {
		t.Fatal("a held send was claimed")
	}
}

// A live owner gives back what it knows it never sent; its verdicts do not apply
// to a row another owner has claimed since.
func TestReleaseAndVerdictsAreTheOwnersOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	ids := b.queue(t, "+221770000041")
	a := b.owner(t)
	claim(t, a, 1)
	if err := outbox.Release(ctx, b.db.Pool(t), a.ID, ids, "shutdown"); err != nil {
		t.Fatal(err)
	}
	if s := b.status(t, ids[0]); s != "queued" {
		t.Fatalf("released row is %s", s)
	}
	c := b.owner(t)
	claim(t, c, 1)
	if err := outbox.MarkFailed(ctx, b.db.Pool(t), a.ID, ids[0], 0, "late verdict", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := outbox.MarkRetry(ctx, b.db.Pool(t), a.ID, ids[0], time.Now(), 0, "late verdict", "transient"); err != nil {
		t.Fatal(err)
	}
	if s := b.status(t, ids[0]); s != "sending" {
		t.Fatalf("another owner's late verdict changed the row to %s", s)
	}
}
