package inbox

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/metrics"
)

// Collector reports the inbox at scrape time, read from the table.
type Collector struct {
	pool    *pgxpool.Pool
	pending *prometheus.Desc
	parked  *prometheus.Desc
	success *prometheus.Desc
}

// NewCollector returns a collector of the inbox in pool's database.
func NewCollector(pool *pgxpool.Pool) *Collector {
	return &Collector{
		pool: pool,
		pending: prometheus.NewDesc(prometheus.BuildFQName(metrics.Namespace, "queue", "inbox_deliveries"),
			"Webhook deliveries stored and not yet processed (parked ones included).", nil, nil),
		parked: prometheus.NewDesc(prometheus.BuildFQName(metrics.Namespace, "queue", "inbox_parked_deliveries"),
			"Webhook deliveries set aside after repeated failures, waiting for an operator.", nil, nil),
		success: metrics.QueueScrapeSuccess,
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.parked
	ch <- c.success
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var pending, parked int64
	err := c.pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE available_at = 'infinity')
		FROM whatsapp_sidecar.inbox WHERE processed_at IS NULL`).Scan(&pending, &parked)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.success, prometheus.GaugeValue, 0, "inbox")
		return
	}
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(pending))
	ch <- prometheus.MustNewConstMetric(c.parked, prometheus.GaugeValue, float64(parked))
	ch <- prometheus.MustNewConstMetric(c.success, prometheus.GaugeValue, 1, "inbox")
}
