package outbox

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/metrics"
)

// Collector reports the queues' depth at scrape time, read from the database (the
// postgres_exporter way: a gauge that is the table, not a counter kept in memory,
// so every replica reports the same truth).
type Collector struct {
	pool    *pgxpool.Pool
	depth   *prometheus.Desc
	oldest  *prometheus.Desc
	events  *prometheus.Desc
	inbox   *prometheus.Desc
	success *prometheus.Desc
}

// NewCollector returns a collector of the queues in pool's database.
func NewCollector(pool *pgxpool.Pool) *Collector {
	ns := metrics.Namespace
	return &Collector{
		pool: pool,
		depth: prometheus.NewDesc(prometheus.BuildFQName(ns, "queue", "messages"),
			"Outbound messages waiting, by status (queued, sending).", []string{"status"}, nil),
		oldest: prometheus.NewDesc(prometheus.BuildFQName(ns, "queue", "oldest_message_age_seconds"),
			"Age of the oldest outbound message still queued or sending.", nil, nil),
		events: prometheus.NewDesc(prometheus.BuildFQName(ns, "queue", "events"),
			"Captured Odoo changes not yet composed (parked ones included).", nil, nil),
		inbox: prometheus.NewDesc(prometheus.BuildFQName(ns, "queue", "inbox_deliveries"),
			"Webhook deliveries stored and not yet processed.", nil, nil),
		success: prometheus.NewDesc(prometheus.BuildFQName(ns, "queue", "scrape_success"),
			"1 when the queue figures could be read from the database.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.oldest
	ch <- c.events
	ch <- c.inbox
	ch <- c.success
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var queued, sending, events, inbox int64
	var oldest float64
	err := c.pool.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE status = 'queued'), count(*) FILTER (WHERE status = 'sending'),
		       COALESCE(EXTRACT(EPOCH FROM (now() AT TIME ZONE 'utc') - min(create_date)), 0)::float8,
		       (SELECT count(*) FROM whatsapp_sidecar.event),
		       (SELECT count(*) FROM whatsapp_sidecar.inbox WHERE processed_at IS NULL)
		FROM whatsapp_message WHERE status IN ('queued', 'sending') AND direction = 'out'`).
		Scan(&queued, &sending, &oldest, &events, &inbox)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.success, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(queued), StatusQueued)
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(sending), StatusSending)
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, oldest)
	ch <- prometheus.MustNewConstMetric(c.events, prometheus.GaugeValue, float64(events))
	ch <- prometheus.MustNewConstMetric(c.inbox, prometheus.GaugeValue, float64(inbox))
	ch <- prometheus.MustNewConstMetric(c.success, prometheus.GaugeValue, 1)
}
