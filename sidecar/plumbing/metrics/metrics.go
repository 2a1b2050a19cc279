// Package metrics holds what every part of the sidecar shares about Prometheus: the
// namespace and a registry of its own (not the global one) with the Go runtime and
// process collectors. Each component defines its metrics next to its code and
// registers them here; names start with whatsapp_, carry base units and end in
// _total for counters, and labels take bounded values only (never a phone number,
// an id, a URL or an error text).
package metrics

import (
	"regexp"
	"runtime/debug"
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Namespace prefixes every metric name.
const Namespace = "whatsapp"

// Registry is a Prometheus registry that also remembers the name of every metric
// registered, observed or not yet: dashboards and alert rules are checked against
// it.
type Registry struct {
	*prometheus.Registry

	mu    sync.Mutex
	names map[string]bool

	panics *prometheus.CounterVec
}

// Panics counts the panics recovered in the sidecar, by component (a component
// restarted, or the one row, delivery or batch it was working on set aside).
func (r *Registry) Panics() *prometheus.CounterVec { return r.panics }

// NewRegistry returns a registry with the Go and process collectors and the
// whatsapp_sidecar_build_info gauge.
func NewRegistry(version string) *Registry {
	reg := &Registry{Registry: prometheus.NewRegistry(), names: map[string]bool{}}
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
	reg.panics = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "sidecar", Name: "component_panics_total",
		Help: "Panics recovered, by component: the component restarted, or the row, delivery or batch it was on set aside.",
	}, []string{"component"})
	reg.MustRegister(buildInfo, reg.panics)
	return reg
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// Register registers c and remembers its metrics' names.
func (r *Registry) Register(c prometheus.Collector) error {
	if err := r.Registry.Register(c); err != nil {
		return err
	}
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	r.mu.Lock()
	defer r.mu.Unlock()
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			r.names[m[1]] = true
		}
	}
	return nil
}

// MustRegister registers cs and panics on a registration error (a programming
// error: two components defining the same metric).
func (r *Registry) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// Names lists the names of every registered metric.
func (r *Registry) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.names))
	for n := range r.names {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// QueueScrapeSuccess is shared by the collectors of the sidecar's queues (events,
// outbox, inbox), each reporting under its own queue label.
var QueueScrapeSuccess = prometheus.NewDesc(prometheus.BuildFQName(Namespace, "queue", "scrape_success"),
	"1 when the queue's figures could be read from the database, by queue.", []string{"queue"}, nil)

// Combine makes one collector of several that may share descriptors (such as
// QueueScrapeSuccess): each descriptor is described once, every collector collects.
func Combine(cs ...prometheus.Collector) prometheus.Collector { return combined(cs) }

type combined []prometheus.Collector

func (c combined) Describe(ch chan<- *prometheus.Desc) {
	seen := map[string]bool{}
	for _, col := range c {
		descs := make(chan *prometheus.Desc)
		go func() { col.Describe(descs); close(descs) }()
		for d := range descs {
			if !seen[d.String()] {
				seen[d.String()] = true
				ch <- d
			}
		}
	}
}

func (c combined) Collect(ch chan<- prometheus.Metric) {
	for _, col := range c {
		col.Collect(ch)
	}
}
