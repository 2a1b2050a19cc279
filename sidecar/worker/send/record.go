package send

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/metrics"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/outbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
)

// result is an accepted send waiting to be recorded.
type result struct {
	sent    outbox.Sent
	model   string
	resID   int
	kind    string
	record  string
	summary string
}

// record writes accepted sends in batches (one statement per batch: at a thousand
// messages a second, a statement each would cost more than the sends), then the
// records' flags and chatter notes in a second short transaction under Odoo's lock
// timeout, retried when Odoo holds the rows.
func (s *Sender) record(ctx context.Context) {
	const maxBatch = 500
	var batch []result
	var pending []result // sent, flags not yet written
	ticker := time.NewTicker(20 * time.Millisecond)
	defer ticker.Stop()
	flush := func() {
		if len(batch) > 0 {
			sent := make([]outbox.Sent, len(batch))
			for i, r := range batch {
				sent[i] = r.sent
			}
			if err := retryDB(ctx, func() error { return outbox.MarkSent(ctx, s.Pool, sent) }); err != nil {
				s.Logger.Error("recording sent messages (their status webhooks will settle them)", "messages", len(sent), "err", err)
			}
			pending = append(pending, batch...)
			batch = batch[:0]
		}
		if len(pending) > 0 {
			if err := s.writeOdoo(ctx, pending); err != nil {
				s.Logger.Warn("writing WhatsApp flags and chatter notes to Odoo, will retry", "records", len(pending), "err", err)
				if len(pending) > 10*maxBatch {
					pending = pending[len(pending)-10*maxBatch:]
				}
				return
			}
			pending = pending[:0]
		}
	}
	for {
		select {
		case r, ok := <-s.results:
			if !ok {
				flush()
				return
			}
			batch = append(batch, r)
			if len(batch) >= maxBatch {
				flush()
			}
		case <-ticker.C:
			flush()
		}
	}
}

// retryDB retries a write a few times: a database restart must not lose a result.
func retryDB(ctx context.Context, fn func() error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = fn(); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt+1) * 500 * time.Millisecond):
		}
	}
	return err
}

// writeOdoo sets the flags of the records the messages were about and posts a
// chatter note on each, so Odoo users see what was sent without any Odoo module.
func (s *Sender) writeOdoo(ctx context.Context, results []result) error {
	byKind := map[string][]int{}
	var notes []odoo.Note
	for _, r := range results {
		if r.resID == 0 || (r.model != "sale.order" && r.model != "account.move") {
			continue
		}
		if odoo.HasSentFlags(r.kind) {
			byKind[r.kind] = append(byKind[r.kind], r.resID)
		}
		notes = append(notes, odoo.Note{Model: r.model, ResID: r.resID, RecordName: r.record,
			BodyHTML: fmt.Sprintf("<p>WhatsApp envoyé au %s :</p><p>%s</p>", odoo.EscapeHTML(r.sent.Phone), odoo.EscapeHTML(r.summary))})
	}
	if len(notes) == 0 {
		return nil
	}
	now := s.Now()
	return odoo.WithLockTimeout(ctx, s.Pool, func(tx pgx.Tx) error {
		for kind, ids := range byKind {
			if err := odoo.SetSentFlags(ctx, tx, kind, ids, now); err != nil {
				return err
			}
		}
		return odoo.PostNotes(ctx, tx, notes, now)
	})
}

// Metrics of the sender. Labels: kind (the notification kinds, "other" for the
// rest), message type, Meta error code or "local", and retry reasons: all bounded.
type Metrics struct {
	sent     *prometheus.CounterVec
	failed   *prometheus.CounterVec
	retried  *prometheus.CounterVec
	duration prometheus.Histogram
}

// NewMetrics registers the sender's metrics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "messages", Name: "sent_total",
			Help: "Messages Meta accepted, by notification kind and message type.",
		}, []string{"kind", "type"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "messages", Name: "failed_total",
			Help: "Messages that failed for good, by kind and error code (Meta's, or local for ours).",
		}, []string{"kind", "code"}),
		retried: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "messages", Name: "retries_total",
			Help: "Messages put back in the queue, by reason.",
		}, []string{"reason"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: metrics.Namespace, Subsystem: "messages", Name: "send_duration_seconds",
			Help:    "Time from claiming a message to Meta's acceptance (pacing, upload and request).",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
	}
	reg.MustRegister(m.sent, m.failed, m.retried, m.duration)
	return m
}

var knownKinds = map[string]bool{
	"order_created": true, "order_summary": true, "order_confirmed": true, "order_cancelled": true,
	"order_details": true, "invoice_posted": true, "invoice_buttons": true, "invoice_pdf": true,
	"invoice_residual": true, "invoice_paid": true, "invoice_reminder": true, "scenario": true,
}

func kindLabel(kind string) string {
	switch {
	case knownKinds[kind]:
		return kind
	case kind == "":
		return "manual"
	case strings.HasPrefix(kind, "reply"):
		return "reply" // answers to the customer's messages and clicks
	}
	return "other"
}

func (s *Sender) observeSent(kind, typ string, d time.Duration) {
	if s.Metrics == nil {
		return
	}
	s.Metrics.sent.WithLabelValues(kindLabel(kind), typ).Inc()
	s.Metrics.duration.Observe(d.Seconds())
}

func (s *Sender) observeFailed(kind string, code int) {
	if s.Metrics == nil {
		return
	}
	label := "local"
	if code != 0 {
		label = fmt.Sprint(code)
		if whatsapp.CodeDescription(code) == "" {
			label = "other"
		}
	}
	s.Metrics.failed.WithLabelValues(kindLabel(kind), label).Inc()
}

func (s *Sender) observeRetry(reason string) {
	if s.Metrics != nil {
		s.Metrics.retried.WithLabelValues(reason).Inc()
	}
}
