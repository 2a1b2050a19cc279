package events

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/metrics"
)

// Collector reports the event queue's depth at scrape time, read from the table
// (the postgres_exporter way: every replica reports the same truth).
type Collector struct {
	pool    *pgxpool.Pool
	events  *prometheus.Desc
	success *prometheus.Desc
}

// NewCollector returns a collector of the event queue in pool's database.
func NewCollector(pool *pgxpool.Pool) *Collector {
	return &Collector{
		pool: pool,
		events: prometheus.NewDesc(prometheus.BuildFQName(metrics.Namespace, "queue", "events"),
			"Captured Odoo changes not yet composed (parked ones included).", nil, nil),
		success: metrics.QueueScrapeSuccess,
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.events
	ch <- c.success
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var n int64
	if err := c.pool.QueryRow(ctx, `SELECT COALESCE(sum(COALESCE(cardinality(res_ids), 1)), 0) FROM whatsapp_sidecar.event`).Scan(&n); err != nil {
		ch <- prometheus.MustNewConstMetric(c.success, prometheus.GaugeValue, 0, "events")
		return
	}
	ch <- prometheus.MustNewConstMetric(c.events, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(c.success, prometheus.GaugeValue, 1, "events")
}
