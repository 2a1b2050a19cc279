// Package inbound processes Meta's webhook deliveries stored raw in the
// whatsapp_sidecar.inbox table by the intake (sidecar/webhook): status updates of
// the messages the sidecar sent, and the customers' own messages, stored as
// whatsapp_message rows in their whatsapp_conversation (one per account and
// WhatsApp number, linked to the Odoo partner of that number), with their media as
// attachments, opt-out and opt-in keywords, replies about an order posted to its
// chatter, and clicks handed to sidecar/actions.
//
// Deliveries are claimed with FOR UPDATE SKIP LOCKED under a lease, so several
// replicas share the inbox and a crashed one's work is taken over. Processing is
// idempotent: Meta redelivers, duplicates and reorders, and the same wamid or
// status twice changes nothing (a per-message claim makes a click run once).
package inbound

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/accounts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/listen"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/metrics"
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
	// BatchSize deliveries per claim; zero means 32.
	BatchSize int
	// Lease is how long a claimed delivery (or message) is the claimer's before
	// another replica may take it over; zero means 5 minutes.
	Lease time.Duration
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

	once sync.Once
}

func (p *Processor) defaults() {
	p.once.Do(func() {
		if p.Concurrency <= 0 {
			p.Concurrency = 8
		}
		if p.BatchSize <= 0 {
			p.BatchSize = 32
		}
		if p.Lease <= 0 {
			p.Lease = 5 * time.Minute
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

// Run processes deliveries until ctx ends: whenever the bell rings, and every
// PollInterval. Processed deliveries older than Retention are purged now and then.
func (p *Processor) Run(ctx context.Context) error {
	p.defaults()
	ticker := time.NewTicker(p.PollInterval)
	defer ticker.Stop()
	var lastPurge time.Time
	for {
		if _, err := p.Drain(ctx); err != nil && ctx.Err() == nil {
			p.Logger.Warn("processing webhook deliveries", "err", err)
		}
		if time.Since(lastPurge) > 10*time.Minute {
			if err := p.Purge(ctx); err != nil && ctx.Err() == nil {
				p.Logger.Warn("purging processed webhook deliveries", "err", err)
			}
			lastPurge = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-p.Bell:
		case <-ticker.C:
		}
	}
}

type delivery struct {
	ID         int64
	Body       []byte
	Attempts   int
	ReceivedAt time.Time
}

// claimDeliveries leases due deliveries: each becomes invisible to other claimers
// until its lease ends, so a processor that dies leaves it to be taken over.
const claimDeliveries = `
UPDATE whatsapp_sidecar.inbox i SET attempts = i.attempts + 1, available_at = now() + make_interval(secs => $2)
FROM (SELECT id FROM whatsapp_sidecar.inbox
      WHERE processed_at IS NULL AND available_at <= now()
      ORDER BY available_at, id LIMIT $1 FOR UPDATE SKIP LOCKED) due
WHERE i.id = due.id
RETURNING i.id, i.body, i.attempts, i.received_at`

// Drain processes every due delivery, Concurrency at a time, and returns how many
// it processed (successfully or not). Safe to run from several replicas.
func (p *Processor) Drain(ctx context.Context) (int, error) {
	p.defaults()
	total := 0
	sem := make(chan struct{}, p.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for ctx.Err() == nil {
		rows, err := p.Pool.Query(ctx, claimDeliveries, p.BatchSize, p.Lease.Seconds())
		if err != nil {
			return total, fmt.Errorf("claim deliveries: %w", err)
		}
		batch, err := pgx.CollectRows(rows, pgx.RowToStructByPos[delivery])
		if err != nil {
			return total, fmt.Errorf("claim deliveries: %w", err)
		}
		for _, d := range batch {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				p.deliver(ctx, d)
			}()
		}
		total += len(batch)
		if len(batch) < p.BatchSize {
			break
		}
	}
	return total, ctx.Err()
}

// deliver processes one delivery and records the outcome on its inbox row.
func (p *Processor) deliver(ctx context.Context, d delivery) {
	err := p.process(ctx, d)
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
		if _, uerr := p.Pool.Exec(rec, `UPDATE whatsapp_sidecar.inbox SET processed_at = now(), last_error = NULLIF($2, '')
			WHERE id = $1`, d.ID, msg); uerr != nil {
			p.Logger.Warn("recording a processed delivery (it will be processed again, harmlessly)", "delivery", d.ID, "err", uerr)
		}
		if p.Metrics != nil {
			p.Metrics.lag.Observe(time.Since(d.ReceivedAt).Seconds())
		}
	default:
		next := p.backoff(d.Attempts)
		outcome := "retried"
		if d.Attempts >= p.MaxAttempts {
			// Parked: kept with its error for an operator (reset available_at to
			// replay it); the rest of the inbox goes on.
			outcome = "parked"
			p.Logger.Error("giving up on a webhook delivery after retries", "delivery", d.ID, "attempts", d.Attempts, "err", err)
		} else if ctx.Err() == nil {
			p.Logger.Warn("webhook delivery failed, will retry", "delivery", d.ID, "attempt", d.Attempts, "in", next, "err", err)
		}
		p.countDelivery(outcome)
		available := "now() + make_interval(secs => $3)"
		if outcome == "parked" {
			available = "'infinity'"
		}
		if _, uerr := p.Pool.Exec(rec, `UPDATE whatsapp_sidecar.inbox SET available_at = `+available+`, last_error = $2
			WHERE id = $1 AND processed_at IS NULL`, d.ID, err.Error(), next.Seconds()); uerr != nil {
			p.Logger.Warn("recording a failed delivery (its lease will expire)", "delivery", d.ID, "err", uerr)
		}
	}
}

// backoff is exponential with jitter, from 1 s to 10 min.
func (p *Processor) backoff(attempt int) time.Duration {
	d := time.Second << min(max(attempt-1, 0), 10)
	d = min(d, 10*time.Minute)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// process handles every change of a delivery, in order. An error in one message
// does not stop the others; the delivery is retried and what was done is skipped.
func (p *Processor) process(ctx context.Context, d delivery) error {
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
	secs := p.Retention.Seconds()
	if _, err := p.Pool.Exec(ctx, `DELETE FROM whatsapp_sidecar.inbox WHERE id IN (
		SELECT id FROM whatsapp_sidecar.inbox WHERE processed_at < now() - make_interval(secs => $1) LIMIT 10000)`, secs); err != nil {
		return fmt.Errorf("purge inbox: %w", err)
	}
	if _, err := p.Pool.Exec(ctx, `DELETE FROM whatsapp_sidecar.inbound WHERE wa_message_id IN (
		SELECT wa_message_id FROM whatsapp_sidecar.inbound WHERE done_at < now() - make_interval(secs => $1) LIMIT 10000)`, secs); err != nil {
		return fmt.Errorf("purge message claims: %w", err)
	}
	return nil
}
