package send

import (
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/metrics"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/outbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
)

// Metrics of the sender. Labels: kind (the notification kinds, "other" for the
// rest), message type, Meta error code or "local", retry reasons, what became of a
// stopped sender's rows: all bounded.
type Metrics struct {
	sent     *prometheus.CounterVec
	failed   *prometheus.CounterVec
	retried  *prometheus.CounterVec
	unknown  prometheus.Counter
	resent   prometheus.Counter
	rescued  *prometheus.CounterVec
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
		unknown: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "messages", Name: "unknown_total",
			Help: "Sends whose answer this sender lost (timeout, connection cut, stop): Meta may have them.",
		}),
		resent: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "messages", Name: "unknown_resent_total",
			Help: "Sends of unknown fate sent again by the UNKNOWN_RESEND_AFTER policy (Meta may have had them).",
		}),
		rescued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "messages", Name: "rescued_total",
			Help: "Rows of stopped senders taken over: requeued (never sent) or unknown (maybe sent).",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: metrics.Namespace, Subsystem: "messages", Name: "send_duration_seconds",
			Help:    "Time from claiming a message to Meta's acceptance (pacing, upload and request).",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
	}
	for _, r := range []string{ReasonTransient, ReasonPairRate, ReasonAuth, ReasonAccount, ReasonNoCredentials, ReasonShutdown} {
		m.retried.WithLabelValues(r)
	}
	m.rescued.WithLabelValues("requeued")
	m.rescued.WithLabelValues("unknown")
	reg.MustRegister(m.sent, m.failed, m.retried, m.unknown, m.resent, m.rescued, m.duration)
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

func (s *Sender) observeUnknown() {
	if s.Metrics != nil {
		s.Metrics.unknown.Inc()
	}
}

func (s *Sender) observeResent() {
	if s.Metrics != nil {
		s.Metrics.resent.Inc()
	}
}

func (s *Sender) observeRescue(r outbox.Rescued) {
	if r.Requeued+r.Unknown > 0 {
		s.Logger.Info("took over the messages of a stopped sender", "requeued", r.Requeued, "unknown", r.Unknown)
	}
	if s.Metrics != nil {
		s.Metrics.rescued.WithLabelValues("requeued").Add(float64(r.Requeued))
		s.Metrics.rescued.WithLabelValues("unknown").Add(float64(r.Unknown))
	}
}
