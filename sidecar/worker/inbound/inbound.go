// Package inbound processes Meta's webhook deliveries stored raw in the
// whatsapp_sidecar.inbox table by the intake (sidecar/webhook): status updates of
// the messages the sidecar sent, and the customers' own messages, stored as
// whatsapp_message rows in their whatsapp_conversation (one per account and
// WhatsApp number, linked to the Odoo partner of that number), with their media as
// attachments, opt-out and opt-in keywords, replies about an order posted to its
// chatter, and clicks handed to sidecar/actions.
//
// Deliveries are claimed by the processor's owner (package owner) with FOR UPDATE
// SKIP LOCKED, so several replicas share the inbox, and a processor that dies
// leaves its deliveries to the next one at once: no lease to wait for. Processing is
// idempotent: Meta redelivers, duplicates and reorders, and the same wamid or
// status twice changes nothing (a per-message claim makes a click run once). A
// delivery whose processing panics is set aside (parked) with the reason; the
// others go on.
package inbound

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/accounts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/listen"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/metrics"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/inbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/owner"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/actions"
)

// Processor drains the inbox. Set the exported fields, then call Run (or Drain).
type Processor struct {
	Pool     *pgxpool.Pool
	Accounts *accounts.Registry
	// Actions runs clicks; nil means a Runner on Pool with the database alone.
	Actions *actions.Runner
	Logger  *slog.Logger
	Metrics *Metrics
	// Bell wakes the processor: the intake rings it after storing a delivery.
	Bell listen.Bell

	// Concurrency is how many deliveries are processed at once; zero means 8.
	Concurrency int
	// BatchSize deliveries per claim; zero means 256 (status reports of a batch
	// are applied together).
	BatchSize int
	// Connect opens the connection the processor's owner lives on (its claims die
	// with it); nil means a new connection with Pool's configuration.
	Connect func(ctx context.Context) (*pgx.Conn, error)
	// Panics counts the deliveries set aside because processing them panicked.
	Panics prometheus.Counter
	// Hooks are named points where a test stops the processor as if its process
	// died; nil in production.
	Hooks *Hooks
	// PollInterval is the safety net when a ring is lost (another replica stored the
	// delivery); zero means 5s.
	PollInterval time.Duration
	// MaxAttempts before a failing delivery is parked for an operator; zero means 10.
	MaxAttempts int
	// Retention of processed deliveries and done message claims; zero means 8 days
	// (Meta retries for up to 7).
	Retention time.Duration
	// SkipMedia leaves inbound media at Meta (media_id on the row) instead of
	// storing each file as an ir_attachment.
	SkipMedia bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	once    sync.Once
	ownerID atomic.Int32 // the owner claiming now, for the per-message claims
	dead    atomic.Bool
}

// Hooks are the processor's fault-injection points; returning ErrCrash from one
// makes the processor die there, writing nothing more, its owner gone.
type Hooks struct {
	AfterClaim    func(ids []int64) error // deliveries claimed, none processed
	BeforeSettled func(id int64) error    // a delivery applied, not yet marked processed
}

// ErrCrash is what a hook returns to make the processor die at its point.
var ErrCrash = errors.New("inbound: crashed at a test hook")

func (p *Processor) defaults() {
	p.once.Do(func() {
		if p.Concurrency <= 0 {
			p.Concurrency = 8
		}
		if p.BatchSize <= 0 {
			p.BatchSize = 256
		}
		if p.Connect == nil {
			p.Connect = func(ctx context.Context) (*pgx.Conn, error) {
				return pgx.ConnectConfig(ctx, p.Pool.Config().ConnConfig.Copy())
			}
		}
		if p.PollInterval <= 0 {
			p.PollInterval = 5 * time.Second
		}
		if p.MaxAttempts <= 0 {
			p.MaxAttempts = 10
		}
		if p.Retention <= 0 {
			p.Retention = 8 * 24 * time.Hour
		}
		if p.Now == nil {
			p.Now = time.Now
		}
		if p.Logger == nil {
			p.Logger = slog.New(slog.DiscardHandler)
		}
		if p.Bell == nil {
			p.Bell = listen.NewBell()
		}
		if p.Actions == nil {
			p.Actions = &actions.Runner{Pool: p.Pool, Logger: p.Logger, Now: p.Now, HTTP: &http.Client{}}
		}
	})
}

// Metrics of the processor.
type Metrics struct {
	deliveries *prometheus.CounterVec
	messages   *prometheus.CounterVec
	statuses   *prometheus.CounterVec
	lag        prometheus.Histogram
}

// NewMetrics registers the processor's metrics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "inbox", Name: "deliveries_total",
			Help: "Webhook deliveries processed, by outcome: processed, retried, parked, malformed.",
		}, []string{"outcome"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "inbound", Name: "messages_total",
			Help: "Inbound messages, by WhatsApp type and outcome: stored, duplicate, skipped (unreadable).",
		}, []string{"type", "outcome"}),
		statuses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "inbound", Name: "statuses_total",
			Help: "Status updates, by status and outcome: applied, unchanged (duplicate or late), unknown_message, ignored.",
		}, []string{"status", "outcome"}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: metrics.Namespace, Subsystem: "inbox", Name: "lag_seconds",
			Help:    "Time from a delivery's receipt to the end of its processing.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 16),
		}),
	}
	reg.MustRegister(m.deliveries, m.messages, m.statuses, m.lag)
	return m
}

var knownTypes = map[string]bool{
	"text": true, "image": true, "document": true, "audio": true, "video": true, "sticker": true, "location": true,
	"contacts": true, "reaction": true, "interactive": true, "button": true, "order": true, "system": true,
	"unsupported": true, "request_welcome": true,
}

func (p *Processor) countMessage(typ, outcome string) {
	if p.Metrics == nil {
		return
	}
	if !knownTypes[typ] {
		typ = "other"
	}
	p.Metrics.messages.WithLabelValues(typ, outcome).Inc()
}

func (p *Processor) countStatus(status, outcome string) {
	if p.Metrics == nil {
		return
	}
	switch status {
	case "sent", "delivered", "read", "failed", "played", "deleted":
	default:
		status = "other"
	}
	p.Metrics.statuses.WithLabelValues(status, outcome).Inc()
}

func (p *Processor) countDelivery(outcome string) {
	if p.Metrics != nil {
		p.Metrics.deliveries.WithLabelValues(outcome).Inc()
	}
}

// Run processes deliveries until fetch ends: whenever the bell rings, and every
// PollInterval; then it finishes the deliveries under way (work ending cuts them
// short: they are processed again, idempotently). Processed deliveries older than
// Retention are purged now and then. A lost owner connection voids its claims and
// Run goes on with a new owner.
func (p *Processor) Run(fetch, work context.Context) error {
	p.defaults()
	ticker := time.NewTicker(p.PollInterval)
	defer ticker.Stop()
	var lastPurge time.Time
	var o *owner.Owner
	defer func() {
		if o != nil {
			_ = o.Close(context.WithoutCancel(work))
		}
	}()
	for fetch.Err() == nil {
		if o == nil {
			var err error
			if o, err = owner.Acquire(fetch, p.Connect); err != nil {
				if fetch.Err() == nil {
					p.Logger.Warn("inbox processor cannot reach the database, retrying", "err", err)
				}
				o = nil
			}
		}
		if o != nil {
			if _, err := p.drain(fetch, work, o); err != nil && fetch.Err() == nil {
				if errors.Is(err, ErrCrash) {
					return err
				}
				p.Logger.Warn("processing webhook deliveries", "err", err)
			}
			select {
			case <-o.Lost():
				_ = o.Close(context.WithoutCancel(work))
				o = nil
				continue
			default:
			}
		}
		if time.Since(lastPurge) > 10*time.Minute {
			if err := inbox.Purge(fetch, p.Pool, p.Retention); err != nil && fetch.Err() == nil {
				p.Logger.Warn("purging processed webhook deliveries", "err", err)
			}
			lastPurge = time.Now()
		}
		select {
		case <-fetch.Done():
		case <-p.Bell:
		case <-ticker.C:
		}
	}
	return nil
}

// Drain processes every due delivery, Concurrency at a time, and returns how many
// it processed (successfully or not). Safe to run from several replicas.
func (p *Processor) Drain(ctx context.Context) (int, error) {
	p.defaults()
	o, err := owner.Acquire(ctx, p.Connect)
	if err != nil {
		return 0, err
	}
	defer o.Close(context.WithoutCancel(ctx))
	return p.drain(ctx, ctx, o)
}

// drain claims and processes deliveries as o until none is due.
func (p *Processor) drain(fetch, work context.Context, o *owner.Owner) (int, error) {
	p.ownerID.Store(o.ID)
	total := 0
	for fetch.Err() == nil && !p.dead.Load() {
		batch, err := inbox.Claim(fetch, o, p.BatchSize)
		if err != nil {
			return total, err
		}
		if len(batch) > 0 && p.hook(o, func(h *Hooks) error { return callIDs(h.AfterClaim, batch) }) {
			return total, ErrCrash
		}
		p.processBatch(work, o, batch)
		total += len(batch)
		if len(batch) < p.BatchSize {
			break
		}
	}
	if p.dead.Load() {
		return total, ErrCrash
	}
	return total, fetch.Err()
}

func callIDs(f func([]int64) error, batch []inbox.Delivery) error {
	if f == nil {
		return nil
	}
	ids := make([]int64, len(batch))
	for i, d := range batch {
		ids[i] = d.ID
	}
	return f(ids)
}

// hook calls a hook; true means the processor died there.
func (p *Processor) hook(o *owner.Owner, call func(*Hooks) error) bool {
	if p.Hooks == nil || p.dead.Load() {
		return p.dead.Load()
	}
	if err := call(p.Hooks); errors.Is(err, ErrCrash) {
		if p.dead.CompareAndSwap(false, true) {
			_ = o.Close(context.Background())
		}
		return true
	}
	return false
}

// deliver processes one delivery and records the outcome on its inbox row; a
// delivery that panics is parked with the reason.
func (p *Processor) deliver(ctx context.Context, o *owner.Owner, d inbox.Delivery) {
	defer func() {
		if r := recover(); r != nil {
			if p.Panics != nil {
				p.Panics.Inc()
			}
			p.Logger.Error("processing a webhook delivery panicked: set aside", "delivery", d.ID,
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			p.countDelivery("parked")
			if !p.dead.Load() {
				if err := inbox.Park(context.WithoutCancel(ctx), p.Pool, d.ID, fmt.Sprintf("internal error while processing (panic: %v)", r)); err != nil {
					p.Logger.Warn("parking a delivery", "delivery", d.ID, "err", err)
				}
			}
		}
	}()
	err := p.process(ctx, d)
	if p.dead.Load() || p.hook(o, func(h *Hooks) error { return callID(h.BeforeSettled, d.ID) }) {
		return
	}
	// The outcome is recorded even when ctx ends: it is one short statement.
	rec := context.WithoutCancel(ctx)
	switch {
	case err == nil || errors.Is(err, ErrMalformed):
		msg := ""
		if err != nil {
			msg = err.Error()
			p.countDelivery("malformed")
			p.Logger.Warn("webhook delivery is not Meta's envelope: kept, not processed", "delivery", d.ID, "err", err)
		} else {
			p.countDelivery("processed")
		}
		if uerr := inbox.Processed(rec, p.Pool, d.ID, msg); uerr != nil {
			p.Logger.Warn("recording a processed delivery (it will be processed again, harmlessly)", "delivery", d.ID, "err", uerr)
		}
		if p.Metrics != nil {
			p.Metrics.lag.Observe(time.Since(d.ReceivedAt).Seconds())
		}
	default:
		if d.Attempts >= p.MaxAttempts {
			// Parked: kept with its error for an operator (reset available_at to
			// replay it); the rest of the inbox goes on.
			p.countDelivery("parked")
			p.Logger.Error("giving up on a webhook delivery after retries", "delivery", d.ID, "attempts", d.Attempts, "err", err)
			if uerr := inbox.Park(rec, p.Pool, d.ID, err.Error()); uerr != nil {
				p.Logger.Warn("parking a delivery", "delivery", d.ID, "err", uerr)
			}
			return
		}
		next := p.backoff(d.Attempts)
		if ctx.Err() == nil {
			p.Logger.Warn("webhook delivery failed, will retry", "delivery", d.ID, "attempt", d.Attempts, "in", next, "err", err)
		}
		p.countDelivery("retried")
		if uerr := inbox.Retry(rec, p.Pool, d.ID, next, err.Error()); uerr != nil {
			p.Logger.Warn("recording a failed delivery (its claim ends with this processor)", "delivery", d.ID, "err", uerr)
		}
	}
}

func callID(f func(int64) error, id int64) error {
	if f == nil {
		return nil
	}
	return f(id)
}

// backoff is exponential with jitter, from 1 s to 10 min.
func (p *Processor) backoff(attempt int) time.Duration {
	d := time.Second << min(max(attempt-1, 0), 10)
	d = min(d, 10*time.Minute)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// process handles every change of a delivery, in order. An error in one message
// does not stop the others; the delivery is retried and what was done is skipped.
func (p *Processor) process(ctx context.Context, d inbox.Delivery) error {
	parsed, err := Parse(d.Body)
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range parsed.Changes {
		if err := p.change(ctx, c); err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
	}
	return errors.Join(errs...)
}

func (p *Processor) change(ctx context.Context, c Change) error {
	switch c.Field {
	case "messages", "":
	case "message_template_status_update":
		return p.templateStatus(ctx, c)
	default:
		p.Logger.Debug("webhook field not handled", "field", c.Field)
		return nil
	}
	for i := 0; i < c.Skipped; i++ {
		p.countMessage("other", "skipped")
	}
	if c.Skipped > 0 {
		p.Logger.Warn("webhook items with unreadable JSON skipped", "count", c.Skipped, "phone_number_id", c.PhoneNumberID)
	}
	for _, e := range c.Errors {
		p.Logger.Warn("WhatsApp reported an error for the account", "phone_number_id", c.PhoneNumberID, "error", describe(e))
	}
	var errs []error
	for _, s := range c.Statuses {
		if err := p.status(ctx, s); err != nil {
			errs = append(errs, err)
		}
	}
	for _, m := range c.Messages {
		if err := p.message(ctx, c, m); err != nil {
			errs = append(errs, fmt.Errorf("message %s: %w", m.ID, err))
		}
	}
	return errors.Join(errs...)
}

// Purge deletes processed deliveries and done message claims older than Retention.
func (p *Processor) Purge(ctx context.Context) error {
	p.defaults()
	return inbox.Purge(ctx, p.Pool, p.Retention)
}
