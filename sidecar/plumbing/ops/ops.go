// Package ops serves what operators and Prometheus ask of a running sidecar, on the
// private METRICS_ADDR: /metrics, /healthz (the process answers) and /readyz (it can
// do its job: the database answers, the schema is migrated, LISTEN is in place, a
// WhatsApp account can send).
package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is one readiness condition; a nil error means ready.
type Check struct {
	Name string
	Func func(ctx context.Context) error
}

// NotReady is a readiness failure whose text is meant for the operator reading
// /readyz: what is wrong and what to do. Any other error a check returns is
// logged, and /readyz shows only that the check failed: a raw database error may
// carry a host name, a user or a query.
type NotReady string

func (e NotReady) Error() string { return string(e) }

// Handler returns the ops mux; logger receives the details /readyz does not show.
func Handler(reg *prometheus.Registry, logger *slog.Logger, checks ...Check) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		Registry:            reg,
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
	})))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		status, body := http.StatusOK, ""
		for _, c := range checks {
			err := c.Func(ctx)
			if err == nil {
				body += c.Name + ": ok\n"
				continue
			}
			status = http.StatusServiceUnavailable
			var reason NotReady
			if !errors.As(err, &reason) {
				logger.Warn("readiness check failed", "check", c.Name, "err", err)
				reason = "failing (the sidecar's log says why)"
			}
			body += fmt.Sprintf("%s: %s\n", c.Name, reason)
		}
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	})
	return mux
}

// WithProfiling adds Go's profiles (/debug/pprof/: heap, CPU, goroutines) to h, for
// an operator who measures where memory or CPU goes (DEBUG_PPROF=true). They stay
// on the private listener, like the metrics.
func WithProfiling(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}
