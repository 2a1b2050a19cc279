package send_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/accounts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/invoicepdf"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/config"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/owner"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator/emulatortest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/webhook"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/inbound"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/send"
)

// loop is the whole delivery loop without a daemon: senders, Meta's emulator
// posting its signed status webhooks to the intake, and inbox processors, so a
// test can kill one part at a named point and start another.
type loop struct {
	db       *pgtest.DB
	emu      *emulator.Server
	accounts *accounts.Registry
}

const loopSecret = "fault-app-secret"

func newLoop(t *testing.T, n int) (*loop, []int) {
	t.Helper()
	ctx := context.Background()
	db := pgtest.NewDB(t, pgtest.Sidecar)
	intake := httptest.NewServer(&webhook.Handler{Inbox: &webhook.PoolInbox{Pool: db.Pool(t)},
		Secrets: webhook.AccountSecrets{Env: config.WhatsApp{AppSecret: loopSecret}}})
	t.Cleanup(intake.Close)
	emu := emulatortest.Start(t, emulator.Config{AccessToken: token, AppSecret: loopSecret, PhoneNumberID: phoneNumberID,
		WebhookURL: intake.URL + webhook.Path,
		Knobs: emulator.Knobs{StopAt: "sent", WebhookMaxAttempts: 1_000_000, WebhookRetryDelay: 10 * time.Millisecond,
			WebhookRetryMaxDelay: 100 * time.Millisecond}})
	db.Exec(t, `INSERT INTO whatsapp_config (name, phone_number_id, access_token, facebook_app_secret, company_id,
		default_country_code, rate_limit_per_second) VALUES ('Boutique', $1, $2, $3, 1, 'SN', 1000)`, phoneNumberID, token, loopSecret)
	reg := accounts.New(accounts.Options{Env: config.WhatsApp{APIURL: emu.BaseURL()}})
	if err := reg.Load(ctx, db.Pool(t)); err != nil {
		t.Fatal(err)
	}
	var ids []int
	for i := range n {
		var id int
		db.QueryRow(t, []any{&id}, `INSERT INTO whatsapp_message (phone, content) VALUES ($1, $2) RETURNING id`,
			fmt.Sprintf("+22177%07d", i+1), fmt.Sprintf("fault %d", i+1))
		ids = append(ids, id)
	}
	return &loop{db: db, emu: emu, accounts: reg}, ids
}

func (l *loop) sender(t *testing.T, hooks *send.Hooks) *send.Sender {
	return &send.Sender{Pool: l.db.Pool(t), Accounts: l.accounts, PDFs: &invoicepdf.Source{}, Hooks: hooks,
		PairInterval: time.Millisecond, PairBurst: 100, Backoff: func(int) time.Duration { return 0 }}
}

func (l *loop) processor(t *testing.T, hooks *inbound.Hooks) *inbound.Processor {
	return &inbound.Processor{Pool: l.db.Pool(t), Accounts: l.accounts, Hooks: hooks}
}

func (l *loop) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	l.db.QueryRow(t, []any{&n}, query, args...)
	return n
}

// crash runs s until one of its hooks kills it, and waits until PostgreSQL has
// noticed the death (the owner's lock is gone), as after a kill -9.
func (l *loop) crash(t *testing.T, s *send.Sender) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Run(ctx, ctx); !errors.Is(err, send.ErrCrash) {
		t.Fatalf("the sender stopped with %v, not at its hook", err)
	}
	l.ownersGone(t)
}

func (l *loop) ownersGone(t *testing.T) {
	t.Helper()
	pgtest.Eventually(t, "the dead owners' locks released", func() bool {
		return l.count(t, `SELECT count(*) FROM `+owner.Live+` AS live(id)`) == 0
	})
}

// settle sends and applies webhooks until nothing moves: nothing to send, nothing
// Meta still has to tell, nothing stored unapplied.
func (l *loop) settle(t *testing.T, s *send.Sender, p *inbound.Processor) {
	t.Helper()
	ctx := context.Background()
	pgtest.Eventually(t, "the loop settled", func() bool {
		if _, err := s.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		return l.count(t, `SELECT count(*) FROM whatsapp_message WHERE status IN ('queued', 'sending')`) == 0 &&
			l.emu.PendingWebhooks() == 0 &&
			l.count(t, `SELECT count(*) FROM whatsapp_sidecar.inbox WHERE processed_at IS NULL`) == 0
	})
}

// atMeta counts the accepted requests per text.
func (l *loop) atMeta(t *testing.T) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for _, r := range l.emu.Requests() {
		var req whatsapp.SendRequest
		if strings.HasSuffix(r.Path, "/messages") && r.Status == 200 && json.Unmarshal(r.Body, &req) == nil && req.Text != nil {
			seen[req.Text.Body]++
		}
	}
	return seen
}

// exactlyOnce requeues what is held as unknown (after checking Meta never had it,
// as an operator would), settles again, and checks every message reached Meta
// once and is sent.
func (l *loop) exactlyOnce(t *testing.T, s *send.Sender, p *inbound.Processor, n int) {
	t.Helper()
	seen := l.atMeta(t)
	rows, err := l.db.Pool(t).Query(context.Background(), `SELECT content FROM whatsapp_message WHERE status = 'unknown'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var body string
		_ = rows.Scan(&body)
		if seen[body] > 0 {
			t.Errorf("%q reached Meta but is still unknown after Meta's webhooks were applied", body)
		}
	}
	rows.Close()
	l.db.Exec(t, `UPDATE whatsapp_message SET status = 'queued' WHERE status = 'unknown'`)
	l.settle(t, s, p)
	seen = l.atMeta(t)
	for body, times := range seen {
		if times != 1 {
			t.Errorf("%q reached Meta %d times", body, times)
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct messages reached Meta, want %d", len(seen), n)
	}
	if left := l.count(t, `SELECT count(*) FROM whatsapp_message WHERE status <> 'sent'`); left != 0 {
		t.Errorf("%d messages not sent", left)
	}
}

// A sender killed at each point of the send path, then another one: every message
// reaches Meta exactly once, and the one the dead sender was handling ends where
// the outbox's rules say.
func TestSenderKilledAt(t *testing.T) {
	t.Parallel()
	const n = 12
	cases := []struct {
		point string
		hooks func(victim int) *send.Hooks
		// victim is the row the sender died on; wantHeld: it is held unknown
		// (its request never left); else it reached Meta (or was never sent).
		wantHeld bool
		wantAt   int // times the victim reached Meta before the second sender
	}{
		{"AfterClaim", func(int) *send.Hooks {
			return &send.Hooks{AfterClaim: func([]int) error { return send.ErrCrash }}
		}, false, 0},
		{"AfterDispatch", func(victim int) *send.Hooks {
			return &send.Hooks{AfterDispatch: func(id int) error {
				if id == victim {
					return send.ErrCrash
				}
				return nil
			}}
		}, true, 0},
		{"AfterAnswer", func(victim int) *send.Hooks {
			return &send.Hooks{AfterAnswer: func(id int) error {
				if id == victim {
					return send.ErrCrash
				}
				return nil
			}}
		}, false, 1},
		{"AfterRecord", func(victim int) *send.Hooks {
			// Dies right after the batch that recorded the victim's answer; rows
			// still in flight then may be held, the victim is sent.
			return &send.Hooks{AfterRecord: func(ids []int) error {
				if slices.Contains(ids, victim) {
					return send.ErrCrash
				}
				return nil
			}}
		}, false, 1},
	}
	for _, c := range cases {
		t.Run(c.point, func(t *testing.T) {
			t.Parallel()
			l, ids := newLoop(t, n)
			victim := ids[n/2]
			l.crash(t, l.sender(t, c.hooks(victim)))
			if c.wantAt >= 0 {
				if got := l.atMeta(t)[fmt.Sprintf("fault %d", n/2+1)]; got != c.wantAt {
					t.Fatalf("the victim reached Meta %d times before the restart, want %d", got, c.wantAt)
				}
			}
			s, p := l.sender(t, nil), l.processor(t, nil)
			l.settle(t, s, p)
			var status string
			l.db.QueryRow(t, []any{&status}, `SELECT status FROM whatsapp_message WHERE id = $1`, victim)
			if held := status == "unknown"; held != c.wantHeld {
				t.Errorf("the victim is %s after the restart; held as unknown: %v, want %v", status, held, c.wantHeld)
			}
			l.exactlyOnce(t, s, p, n)
		})
	}
}

// An inbox processor killed while it applies a status delivery: the next one takes
// the delivery over at once, and the send it settles is not resent meanwhile, even
// once its resend time has come (rule 3: not while a delivery received before its
// resend time is stored and unapplied).
func TestProcessorKilledWhileApplyingAStatus(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, ids := newLoop(t, 1)
	victim := ids[0]
	// The answer is lost: the row is unknown, Meta's webhook on its way.
	l.crash(t, l.sender(t, &send.Hooks{AfterAnswer: func(int) error { return send.ErrCrash }}))
	pgtest.Eventually(t, "the status webhook stored", func() bool {
		return l.count(t, `SELECT count(*) FROM whatsapp_sidecar.inbox`) == 1
	})
	// A processor dies having claimed it, before applying it.
	dead := l.processor(t, &inbound.Hooks{AfterClaim: func([]int64) error { return inbound.ErrCrash }})
	if _, err := dead.Drain(ctx); !errors.Is(err, inbound.ErrCrash) {
		t.Fatalf("processor: %v", err)
	}
	l.ownersGone(t)
	// The sender rescues the row with a resend policy whose time has come.
	resend := l.sender(t, nil)
	resend.Unknown.ResendAfter = time.Hour
	if _, err := resend.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	l.db.Exec(t, `UPDATE whatsapp_message SET next_attempt_at = (SELECT max(received_at) FROM whatsapp_sidecar.inbox) AT TIME ZONE 'utc'
		WHERE id = $1 AND status = 'unknown'`, victim)
	if _, err := resend.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := l.atMeta(t)["fault 1"]; got != 1 {
		t.Fatalf("the message reached Meta %d times while its status delivery was unapplied", got)
	}
	// A processor dies after applying it, before marking it processed.
	half := l.processor(t, &inbound.Hooks{BeforeSettled: func(int64) error { return inbound.ErrCrash }})
	if _, err := half.Drain(ctx); !errors.Is(err, inbound.ErrCrash) {
		t.Fatalf("processor: %v", err)
	}
	l.ownersGone(t)
	l.settle(t, resend, l.processor(t, nil))
	l.exactlyOnce(t, resend, l.processor(t, nil), 1)
}

// retries reads whatsapp_messages_retries_total{reason} from reg.
func retries(t *testing.T, reg *prometheus.Registry, reason string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "whatsapp_messages_retries_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// Meta down (5xx on every request) for as long as it takes every message to be
// refused several times, then throttling (130429) for a while: everything is
// delivered afterwards, once each, no message gave up, and the retries show in
// the metrics. The outage ends on a signal (every row retried), not after a time.
func TestFaultMetaOutageThenThrottlingDeliversAll(t *testing.T) {
	t.Parallel()
	const n = 30
	l, _ := newLoop(t, n)
	reg := prometheus.NewRegistry()
	s := l.sender(t, nil)
	s.Metrics = send.NewMetrics(reg)
	s.Backoff = func(int) time.Duration { return 5 * time.Millisecond }
	s.MaxAttempts = 1000
	l.emu.Fail5xx(1_000_000, 0) // 131000 with HTTP 500, as Meta's outages answer
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, context.WithoutCancel(ctx)) }()
	defer func() {
		stop()
		<-done
	}()
	pgtest.Eventually(t, "every message refused three times by the outage", func() bool {
		return l.count(t, `SELECT count(*) FROM whatsapp_message WHERE attempts >= 3`) == n
	})
	outage := retries(t, reg, send.ReasonTransient)
	l.emu.Fail5xx(0, 0)
	l.emu.SetThroughputCap(2) // most requests now get 130429
	pgtest.Eventually(t, "throttling answers", func() bool { return retries(t, reg, send.ReasonTransient) >= outage+20 })
	l.emu.SetThroughputCap(0)
	pgtest.Eventually(t, "everything delivered", func() bool {
		return l.count(t, `SELECT count(*) FROM whatsapp_message WHERE status = 'sent'`) == n
	})
	// Three attempts each, the first included: at least two retries each.
	if outage < 2*n {
		t.Errorf("%v transient retries counted during the outage, want at least %d", outage, 2*n)
	}
	if failed := l.count(t, `SELECT count(*) FROM whatsapp_message WHERE status = 'failed'`); failed != 0 {
		t.Errorf("%d messages gave up", failed)
	}
	for body, times := range l.atMeta(t) {
		if times != 1 {
			t.Errorf("%q reached Meta %d times", body, times)
		}
	}
}

// A panic while sending one message sets that message aside, with the reason, and
// the others go on: failed when nothing had left yet, unknown (held) once its
// request may have.
func TestFaultPanicSetsTheRowAside(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		point      string
		hooks      func(victim int) *send.Hooks
		wantStatus string
	}{
		{"BeforeDispatch", func(victim int) *send.Hooks {
			return &send.Hooks{Started: func(id int) error {
				if id == victim {
					panic("a bad row")
				}
				return nil
			}}
		}, "failed"},
		{"AfterDispatch", func(victim int) *send.Hooks {
			return &send.Hooks{AfterDispatch: func(id int) error {
				if id == victim {
					panic("a bad row")
				}
				return nil
			}}
		}, "unknown"},
	} {
		t.Run(c.point, func(t *testing.T) {
			t.Parallel()
			const n = 6
			l, ids := newLoop(t, n)
			victim := ids[2]
			panics := prometheus.NewCounter(prometheus.CounterOpts{Name: "panics"})
			s := l.sender(t, c.hooks(victim))
			s.Panics = panics
			l.settle(t, s, l.processor(t, nil))
			var status, reason string
			l.db.QueryRow(t, []any{&status, &reason}, `SELECT status, COALESCE(error_message, '') FROM whatsapp_message WHERE id = $1`, victim)
			if status != c.wantStatus || !strings.Contains(reason, "panic: a bad row") {
				t.Errorf("the row that panicked is %s (%q), want %s with the panic as reason", status, reason, c.wantStatus)
			}
			if sent := l.count(t, `SELECT count(*) FROM whatsapp_message WHERE status = 'sent'`); sent != n-1 {
				t.Errorf("%d others sent, want %d", sent, n-1)
			}
			if got := testutil.ToFloat64(panics); got != 1 {
				t.Errorf("%v panics counted, want 1", got)
			}
			if l.atMeta(t)[fmt.Sprintf("fault %d", 3)] != 0 {
				t.Error("the row that panicked reached Meta")
			}
		})
	}
}

// A customer's messages go one at a time: the next is claimed as soon as the
// previous is recorded, not at the next poll (here an hour away) nor on a new bell.
func TestNextMessageOfACustomerFollowsTheRecord(t *testing.T) {
	t.Parallel()
	l, _ := newLoop(t, 0)
	for i := range 3 {
		l.db.Exec(t, `INSERT INTO whatsapp_message (phone, content) VALUES ('+221770000077', $1)`, fmt.Sprintf("in order %d", i))
	}
	s := l.sender(t, nil)
	s.PollInterval = time.Hour
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, context.WithoutCancel(ctx)) }()
	defer func() {
		stop()
		<-done
	}()
	pgtest.Eventually(t, "the three messages sent", func() bool {
		return l.count(t, `SELECT count(*) FROM whatsapp_message WHERE status = 'sent'`) == 3
	})
	var order []string
	for _, r := range l.emu.Requests() {
		var req whatsapp.SendRequest
		if strings.HasSuffix(r.Path, "/messages") && json.Unmarshal(r.Body, &req) == nil && req.Text != nil {
			order = append(order, req.Text.Body)
		}
	}
	if strings.Join(order, ",") != "in order 0,in order 1,in order 2" {
		t.Errorf("Meta got %v, want the customer's messages in queue order", order)
	}
}
