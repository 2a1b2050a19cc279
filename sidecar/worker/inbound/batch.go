package inbound

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/inbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/outbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/owner"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
)

// Most deliveries are status reports: each message sent brings about three (sent,
// delivered, read). They are applied a batch at a time, with the deliveries marked
// processed in the same transaction: one commit for a claimed batch instead of two
// per delivery. A delivery with anything else (a customer's message, a failure
// report, a template review) goes through the per-delivery path, and so does the
// whole batch when applying it together fails.

// statusesOnly returns the status reports of a delivery made of nothing else but
// sent, delivered and read reports (or ones the row does not track), ok false
// otherwise.
func statusesOnly(d inbox.Delivery) (statuses []whatsapp.Status, ok bool) {
	parsed, err := Parse(d.Body)
	if err != nil {
		return nil, false
	}
	for _, c := range parsed.Changes {
		if (c.Field != "messages" && c.Field != "") || len(c.Messages) > 0 || len(c.Errors) > 0 || c.Skipped > 0 {
			return nil, false
		}
		for _, s := range c.Statuses {
			if s.Status == whatsapp.StatusFailed {
				return nil, false
			}
			statuses = append(statuses, s)
		}
	}
	return statuses, true
}

// process claims and processes one batch: its status-only deliveries together,
// the others one by one, Concurrency at a time.
func (p *Processor) processBatch(ctx context.Context, o *owner.Owner, batch []inbox.Delivery) {
	var fast, slow []inbox.Delivery
	var reports [][]whatsapp.Status
	for _, d := range batch {
		if statuses, ok := statusesOnly(d); ok {
			fast, reports = append(fast, d), append(reports, statuses)
		} else {
			slow = append(slow, d)
		}
	}
	if len(fast) > 0 {
		if err := p.applyTogether(ctx, o, fast, reports); err != nil {
			if p.dead.Load() {
				return
			}
			p.Logger.Warn("applying a batch of status reports together failed, one by one now", "deliveries", len(fast), "err", err)
			slow = append(slow, fast...)
		}
	}
	sem := make(chan struct{}, p.Concurrency)
	var wg sync.WaitGroup
	for _, d := range slow {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			p.deliver(ctx, o, d)
		}()
	}
	wg.Wait()
}

// applyTogether applies the reports of deliveries in one statement and marks them
// processed, in one transaction. A panic is an error: the caller falls back.
func (p *Processor) applyTogether(ctx context.Context, o *owner.Owner, deliveries []inbox.Delivery, reports [][]whatsapp.Status) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if p.Panics != nil {
				p.Panics.Inc()
			}
			p.Logger.Error("applying status reports panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("internal error (panic: %v)", r)
		}
	}()
	var updates []outbox.StatusUpdate
	var tracked []string // each update's status, for the metrics
	for _, statuses := range reports {
		for _, s := range statuses {
			switch s.Status {
			case whatsapp.StatusSent, whatsapp.StatusDelivered, whatsapp.StatusRead:
				updates = append(updates, p.update(s))
				tracked = append(tracked, s.Status)
			default:
				p.countStatus(s.Status, "ignored")
			}
		}
	}
	ids := make([]int64, len(deliveries))
	for i, d := range deliveries {
		ids[i] = d.ID
	}
	var applied []outbox.Applied
	err = pgx.BeginFunc(ctx, p.Pool, func(tx pgx.Tx) error {
		var err error
		if applied, err = outbox.ApplyStatuses(ctx, tx, updates); err != nil {
			return err
		}
		for _, id := range ids {
			if p.hook(o, func(h *Hooks) error { return callID(h.BeforeSettled, id) }) {
				return ErrCrash
			}
		}
		return inbox.ProcessedMany(ctx, tx, ids)
	})
	if err != nil {
		return err
	}
	for i, a := range applied {
		p.countApplied(tracked[i], a)
	}
	for _, d := range deliveries {
		p.countDelivery("processed")
		if p.Metrics != nil {
			p.Metrics.lag.Observe(time.Since(d.ReceivedAt).Seconds())
		}
	}
	return nil
}
