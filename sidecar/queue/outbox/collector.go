package outbox

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/metrics"
)

// Collector reports the outbox at scrape time, read from the table (the
// postgres_exporter way: a gauge that is the table, not a counter kept in memory, so
// every replica reports the same truth).
type Collector struct {
	pool      *pgxpool.Pool
	depth     *prometheus.Desc
	oldest    *prometheus.Desc
	held      *prometheus.Desc
	writeBack *prometheus.Desc
	success   *prometheus.Desc
}

// NewCollector returns a collector of the outbox in pool's database.
func NewCollector(pool *pgxpool.Pool) *Collector {
	ns := metrics.Namespace
	return &Collector{
		pool: pool,
		depth: prometheus.NewDesc(prometheus.BuildFQName(ns, "queue", "messages"),
			"Outbound messages not settled, by status: queued, sending, unknown (dispatched, Meta's answer lost).", []string{"status"}, nil),
		oldest: prometheus.NewDesc(prometheus.BuildFQName(ns, "queue", "oldest_message_age_seconds"),
			"Age of the oldest outbound message still queued, sending or of unknown fate.", nil, nil),
		held: prometheus.NewDesc(prometheus.BuildFQName(ns, "queue", "unknown_held_messages"),
			"Messages of unknown fate held for a person (UNKNOWN_RESEND_AFTER=never): no resend is planned.", nil, nil),
		writeBack: prometheus.NewDesc(prometheus.BuildFQName(ns, "queue", "odoo_writeback_messages"),
			"Sent messages whose trace in Odoo is still to write, by what: note (chatter), flags (x_whatsapp_*).", []string{"what"}, nil),
		success: metrics.QueueScrapeSuccess,
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.depth, c.oldest, c.held, c.writeBack, c.success} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var queued, sending, unknown, held, notes, flags int64
	var oldest float64
	err := c.pool.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE status = 'queued'), count(*) FILTER (WHERE status = 'sending'),
		       count(*) FILTER (WHERE status = 'unknown'), count(*) FILTER (WHERE status = 'unknown' AND next_attempt_at IS NULL),
		       COALESCE(EXTRACT(EPOCH FROM `+now+` - min(create_date)), 0)::float8,
		       (SELECT count(*) FROM whatsapp_message WHERE note_pending),
		       (SELECT count(*) FROM whatsapp_message WHERE flags_pending)
		FROM whatsapp_message WHERE status IN ('queued', 'sending', 'unknown') AND direction = 'out'`).
		Scan(&queued, &sending, &unknown, &held, &oldest, &notes, &flags)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.success, prometheus.GaugeValue, 0, "outbox")
		return
	}
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(queued), StatusQueued)
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(sending), StatusSending)
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(unknown), StatusUnknown)
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, oldest)
	ch <- prometheus.MustNewConstMetric(c.held, prometheus.GaugeValue, float64(held))
	ch <- prometheus.MustNewConstMetric(c.writeBack, prometheus.GaugeValue, float64(notes), "note")
	ch <- prometheus.MustNewConstMetric(c.writeBack, prometheus.GaugeValue, float64(flags), "flags")
	ch <- prometheus.MustNewConstMetric(c.success, prometheus.GaugeValue, 1, "outbox")
}
