// Package compose turns captured Odoo changes (whatsapp_sidecar.event rows written
// by the triggers) into queued whatsapp_message rows. It reads each record after
// Odoo's commit, decides whether the customer is notified (active account for the
// record's company, its auto-send switches, flags, phone number, opt-out), and queues
// the message, in the same short transaction that deletes the event: an event is
// either composed once or still waiting, whatever crashes.
package compose

import (
	"context"
	"fmt"
	"log/slog"
	"math/big"
	"runtime/debug"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/accounts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/listen"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/metrics"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/events"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/outbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/phone"
)

// Composer drains the event queue.
type Composer struct {
	Pool     *pgxpool.Pool
	Accounts *accounts.Registry
	Logger   *slog.Logger
	Metrics  *Metrics
	// Bell wakes the composer (the listener rings it on 'event').
	Bell listen.Bell
	// Panics counts the batches whose composing panicked; may be nil.
	Panics prometheus.Counter
	// BatchSize events per transaction; zero means 200.
	BatchSize int
	// PollInterval is the safety net when a notification is lost; zero means 30s.
	PollInterval time.Duration
	// MaxAttempts before an event is parked (available_at = infinity); zero means 10.
	MaxAttempts int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Metrics of the composer.
type Metrics struct {
	events   *prometheus.CounterVec
	duration prometheus.Histogram
}

// NewMetrics registers the composer's metrics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "events", Name: "processed_total",
			Help: "Captured Odoo changes processed, by kind and outcome (queued, or why nothing was sent).",
		}, []string{"kind", "outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: metrics.Namespace, Subsystem: "events", Name: "batch_duration_seconds",
			Help:    "Time to compose one batch of events, transaction included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
	}
	reg.MustRegister(m.events, m.duration)
	return m
}

func (c *Composer) defaults() {
	if c.BatchSize == 0 {
		c.BatchSize = 200
	}
	if c.PollInterval == 0 {
		c.PollInterval = 30 * time.Second
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 10
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Bell == nil {
		c.Bell = listen.NewBell()
	}
}

// Run composes until ctx ends: whenever the bell rings, and every PollInterval.
func (c *Composer) Run(ctx context.Context) error {
	c.defaults()
	ticker := time.NewTicker(c.PollInterval)
	defer ticker.Stop()
	for {
		if _, err := c.Drain(ctx); err != nil && ctx.Err() == nil {
			c.Logger.Warn("composing notifications", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-c.Bell:
		case <-ticker.C:
		}
	}
}

// Drain processes due events until none is left, and returns how many it processed.
func (c *Composer) Drain(ctx context.Context) (int, error) {
	c.defaults()
	total := 0
	for {
		n, err := c.batch(ctx)
		total += n
		if err != nil || n < c.BatchSize {
			return total, err
		}
	}
}

// batch composes one batch in one transaction. When the batch fails (or panics),
// each of its events is retried alone, so one bad event cannot hold back the
// others: it is set aside with its error.
func (c *Composer) batch(ctx context.Context) (int, error) {
	start := time.Now()
	var evs []events.Event
	err := c.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if evs, err = events.Claim(ctx, tx, c.BatchSize); err != nil {
			return err
		}
		return c.process(ctx, tx, evs)
	})
	if c.Metrics != nil && len(evs) > 0 {
		c.Metrics.duration.Observe(time.Since(start).Seconds())
	}
	if err == nil || ctx.Err() != nil || len(evs) == 0 {
		return len(evs), err
	}
	c.Logger.Warn("composing a batch failed, retrying its events one by one", "events", len(evs), "err", err)
	for _, e := range evs {
		if err := c.inTx(ctx, func(tx pgx.Tx) error {
			if locked, err := events.Lock(ctx, tx, e.ID); err != nil || !locked {
				return err // done or taken by a replica meanwhile
			}
			return c.process(ctx, tx, []events.Event{e})
		}); err != nil {
			c.park(ctx, e, err)
		}
	}
	return len(evs), nil
}

// inTx runs fn in a transaction, turning a panic into an error (the transaction is
// rolled back: the events wait).
func (c *Composer) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, c.Pool, func(tx pgx.Tx) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if c.Panics != nil {
					c.Panics.Inc()
				}
				c.Logger.Error("composing panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = fmt.Errorf("internal error while composing (panic: %v)", r)
			}
		}()
		return fn(tx)
	})
}

// park delays a failing event with a growing backoff, and gives up after
// MaxAttempts (the event stays in the queue, with its error, for an operator).
func (c *Composer) park(ctx context.Context, e events.Event, cause error) {
	next := c.Now().Add(time.Duration(1<<min(e.Attempts+1, 12)) * time.Second)
	if e.Attempts+1 >= c.MaxAttempts {
		next = events.Forever
		c.Logger.Error("giving up on an event", "event", e.ID, "kind", e.Kind, "model", e.Model, "res_id", e.ResID, "err", cause)
		c.count(e.Kind, "failed")
	}
	if err := events.Retry(ctx, c.Pool, e, next, cause.Error()); err != nil {
		c.Logger.Warn("recording a failed event", "event", e.ID, "err", err)
	}
}

func (c *Composer) count(kind, outcome string) {
	if c.Metrics != nil {
		c.Metrics.events.WithLabelValues(kind, outcome).Inc()
	}
}

// process decides and queues the messages of events, then deletes them, in tx.
func (c *Composer) process(ctx context.Context, tx pgx.Tx, evs []events.Event) error {
	var orderIDs, invoiceIDs []int
	for _, e := range evs {
		switch e.Model {
		case "sale.order":
			orderIDs = append(orderIDs, e.ResID)
		case "account.move":
			invoiceIDs = append(invoiceIDs, e.ResID)
		}
	}
	orders, err := odoo.Orders(ctx, tx, orderIDs)
	if err != nil {
		return err
	}
	invoices, err := odoo.Invoices(ctx, tx, invoiceIDs)
	if err != nil {
		return err
	}
	var msgs []outbox.Message
	var notes []odoo.Note
	ids := make([]int64, 0, len(evs))
	today := c.Now()
	for _, e := range evs {
		ids = append(ids, e.ID)
		d := c.decide(e, orders, invoices, today)
		if d.skip != "" {
			c.count(e.Kind, d.skip)
			continue
		}
		for _, n := range d.msgs {
			m := outbox.Message{Message: n, DedupKey: d.dedup}
			c.address(&m, d.partner, d.company, d.account)
			msgs = append(msgs, m)
			if m.Status == outbox.StatusFailed {
				notes = append(notes, odoo.Note{Model: m.ResModel, ResID: m.ResID, RecordName: d.record,
					BodyHTML: "<p>WhatsApp non envoyé : " + odoo.EscapeHTML(m.ErrorMessage) + "</p>"})
				break // one failed row says it; its follow-ups would fail the same way
			}
		}
		c.count(e.Kind, "queued")
	}
	if _, err := outbox.Enqueue(ctx, tx, msgs...); err != nil {
		return err
	}
	if err := odoo.PostNotes(ctx, tx, notes, today); err != nil {
		return err
	}
	return events.Delete(ctx, tx, ids)
}

// decision is what one event becomes.
type decision struct {
	skip    string // why nothing is sent; a bounded metric label
	msgs    []notify.Message
	dedup   string
	partner notify.Partner
	company notify.Company
	account *accounts.Account
	record  string
}

func (c *Composer) decide(e events.Event, orders map[int]*notify.Order, invoices map[int]*notify.Invoice, today time.Time) decision {
	switch e.Model {
	case "sale.order":
		o := orders[e.ResID]
		if o == nil {
			return decision{skip: "no_record"}
		}
		a := c.Accounts.ForCompany(o.Company.ID)
		if a == nil {
			return decision{skip: "no_account"}
		}
		d := decision{partner: o.Partner, company: o.Company, account: a, record: o.Name}
		if o.Partner.OptOut {
			return decision{skip: "opted_out"}
		}
		switch e.Kind {
		case "order_created":
			if !a.AutoSendOrderCreation {
				return decision{skip: "disabled"}
			}
			if o.State == "cancel" {
				return decision{skip: "stale"}
			}
			d.msgs, d.dedup = []notify.Message{notify.OrderCreated(a.Settings, o, notify.KindOrderCreated)}, "created"
		case "order_state":
			if o.State != e.NewValue {
				return decision{skip: "stale"} // a later event tells the current state
			}
			if !a.AutoSendOrderState {
				return decision{skip: "disabled"}
			}
			switch {
			case e.NewValue == "sale" && !o.Validated:
				d.msgs = []notify.Message{notify.OrderState(a.Settings, o, notify.KindOrderConfirmed)}
			case e.NewValue == "cancel" && !o.Rejected:
				d.msgs = []notify.Message{notify.OrderState(a.Settings, o, notify.KindOrderCancelled)}
			default:
				// Other states, or a change the customer made themselves by
				// clicking: the click's answer already told them.
				return decision{skip: "not_notified"}
			}
			d.dedup = e.NewValue
		default:
			return decision{skip: "unknown_kind"}
		}
		return d
	case "account.move":
		inv := invoices[e.ResID]
		if inv == nil {
			return decision{skip: "no_record"}
		}
		if inv.MoveType != "out_invoice" && inv.MoveType != "out_refund" {
			return decision{skip: "not_customer"}
		}
		a := c.Accounts.ForCompany(inv.Company.ID)
		if a == nil {
			return decision{skip: "no_account"}
		}
		if inv.Partner.OptOut {
			return decision{skip: "opted_out"}
		}
		if inv.State != "posted" {
			return decision{skip: "stale"}
		}
		d := decision{partner: inv.Partner, company: inv.Company, account: a, record: inv.Name}
		switch e.Kind {
		case "invoice_posted":
			if !a.AutoSendInvoice {
				return decision{skip: "disabled"}
			}
			d.msgs = []notify.Message{notify.InvoiceDocument(a.Settings, inv, notify.KindInvoicePosted, today)}
			if inv.MoveType == "out_invoice" && inv.Residual.Sign() > 0 {
				d.msgs = append(d.msgs, notify.InvoiceButtons(a.Settings, inv, today))
			}
			d.dedup = "posted"
		case "invoice_residual":
			if !a.AutoSendInvoiceResidual || inv.MoveType != "out_invoice" {
				return decision{skip: "disabled"}
			}
			old, ok := new(big.Rat).SetString(e.OldValue)
			if !ok || old.Cmp(inv.Residual) <= 0 {
				return decision{skip: "not_notified"} // no payment: residual grew (reversal) or unreadable
			}
			if !sameAmount(e.NewValue, inv.Residual) {
				return decision{skip: "stale"} // another payment followed; its event tells
			}
			d.msgs, d.dedup = []notify.Message{notify.InvoiceResidual(a.Settings, inv, old, today)}, "residual:"+inv.Residual.FloatString(inv.Currency.Decimals)
		case "invoice_reminder":
			if inv.Residual.Sign() <= 0 {
				return decision{skip: "stale"}
			}
			d.msgs, d.dedup = []notify.Message{notify.InvoiceReminder(a.Settings, inv, today)}, "reminder:"+e.NewValue
		default:
			return decision{skip: "unknown_kind"}
		}
		return d
	}
	return decision{skip: "unknown_model"}
}

func sameAmount(text string, r *big.Rat) bool {
	v, ok := new(big.Rat).SetString(text)
	return ok && v.Cmp(r) == 0
}

// address resolves the recipient's E.164 number from the partner's mobile (else
// phone) and country, the company's country, then the account's default; a partner
// without a usable number makes a failed row that says why, visible in Odoo.
func (c *Composer) address(m *outbox.Message, p notify.Partner, co notify.Company, a *accounts.Account) {
	num, err := phone.Normalize(p.Number(), p.Country, co.Country, a.DefaultRegion)
	if err != nil {
		m.Status = outbox.StatusFailed
		m.ErrorMessage = notify.NoNumberError(p.Name, p.Number(), err)
		return
	}
	m.Phone = num.E164
}
