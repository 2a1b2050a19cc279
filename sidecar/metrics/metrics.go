// Package metrics holds what every part of the sidecar shares about Prometheus: the
// namespace and a registry of its own (not the global one) with the Go runtime and
// process collectors. Each component defines its metrics next to its code and
// registers them here; names start with whatsapp_, carry base units and end in
// _total for counters, and labels take bounded values only (never a phone number,
// an id, a URL or an error text).
package metrics

import (
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Namespace prefixes every metric name.
const Namespace = "whatsapp"

// NewRegistry returns a registry with the Go and process collectors and the
// whatsapp_sidecar_build_info gauge.
func NewRegistry(version string) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	goVersion := "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		goVersion = info.GoVersion
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace:   Namespace,
		Subsystem:   "sidecar",
		Name:        "build_info",
		Help:        "Always 1; the labels say which build is running.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": goVersion},
	})
	buildInfo.Set(1)
	reg.MustRegister(buildInfo)
	return reg
}
