package whatsapp

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const namespace = "whatsapp"

// Endpoint label values.
const (
	endpointMessages      = "messages"
	endpointMarkRead      = "mark_read"
	endpointMedia         = "media"
	endpointMediaInfo     = "media_info"
	endpointMediaDownload = "media_download"
	endpointTemplates     = "templates"
)

// Metrics are the client's Prometheus metrics. Labels are bounded: endpoint,
// outcome and code (a Meta error code, an HTTP status or "network"); never a
// phone number, ID, token, URL or error text. A nil *Metrics records nothing.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	retries  *prometheus.CounterVec
	rateWait prometheus.Histogram
}

// NewMetrics creates the metrics and registers them with reg (if not nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: prometheus.BuildFQName(namespace, "api", "requests_total"),
			Help: "Cloud API requests by endpoint, outcome (ok, error) and code (Meta error code, HTTP status, or network).",
		}, []string{"endpoint", "outcome", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    prometheus.BuildFQName(namespace, "api", "request_duration_seconds"),
			Help:    "Duration of one Cloud API HTTP request attempt.",
			Buckets: []float64{0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 2, 5, 10, 30},
		}, []string{"endpoint"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: prometheus.BuildFQName(namespace, "api", "retries_total"),
			Help: "Cloud API requests sent again after a retryable error.",
		}, []string{"endpoint"}),
		rateWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    prometheus.BuildFQName(namespace, "api", "rate_limit_wait_seconds"),
			Help:    "Time a send waited for the per-phone-number rate limiter.",
			Buckets: []float64{0, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5},
		}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration, m.retries, m.rateWait)
	}
	return m
}

func (m *Metrics) observe(endpoint string, d time.Duration, err error, status int) {
	if m == nil {
		return
	}
	m.duration.WithLabelValues(endpoint).Observe(d.Seconds())
	outcome, code := "ok", strconv.Itoa(status)
	if err != nil {
		outcome = "error"
		switch e := err.(type) {
		case *APIError:
			if e.Code != 0 {
				code = strconv.Itoa(e.Code)
			}
		default:
			code = "network"
		}
	}
	m.requests.WithLabelValues(endpoint, outcome, code).Inc()
}

func (m *Metrics) retried(endpoint string) {
	if m != nil {
		m.retries.WithLabelValues(endpoint).Inc()
	}
}

func (m *Metrics) waited(d time.Duration) {
	if m != nil {
		m.rateWait.Observe(d.Seconds())
	}
}
