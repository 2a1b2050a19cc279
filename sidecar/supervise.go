package sidecar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/metrics"
)

// component is one long-running part of the daemon. run returns when fetch ends,
// after finishing the work it has taken; work ending means: abandon that work now.
type component struct {
	name string
	run  func(fetch, work context.Context) error
}

// fetchOnly adapts a component whose work is short (one transaction at a time):
// stopping it and cancelling it are the same.
func fetchOnly(run func(ctx context.Context) error) func(fetch, work context.Context) error {
	return func(fetch, _ context.Context) error { return run(fetch) }
}

// restartDelay is the pause before a component that failed or panicked runs again.
const restartDelay = 5 * time.Second

// supervisor runs the components and owns their goroutines: a component that
// returns an error or panics is logged, counted and restarted after a pause, so one
// bad moment does not stop the others.
type supervisor struct {
	logger *slog.Logger
	panics *prometheus.CounterVec

	fetch, work             context.Context
	stopFetch, cancelWorkFn context.CancelFunc
	wg                      sync.WaitGroup
}

func newSupervisor(logger *slog.Logger, reg *metrics.Registry) *supervisor {
	s := &supervisor{logger: logger, panics: reg.Panics()}
	// Components outlive the context that started the daemon: only Stop ends them.
	s.work, s.cancelWorkFn = context.WithCancel(context.Background())
	s.fetch, s.stopFetch = context.WithCancel(s.work)
	return s
}

func (s *supervisor) start(c component) {
	s.panics.WithLabelValues(c.name)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			err := s.runOnce(c)
			if s.fetch.Err() != nil {
				return
			}
			s.logger.Error("component stopped, restarting", "component", c.name, "in", restartDelay, "err", err)
			select {
			case <-s.fetch.Done():
				return
			case <-time.After(restartDelay):
			}
		}
	}()
}

// runOnce runs c until it returns, turning a panic into an error.
func (s *supervisor) runOnce(c component) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.panics.WithLabelValues(c.name).Inc()
			s.logger.Error("component panicked", "component", c.name, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return c.run(s.fetch, s.work)
}

// stopped is closed once Stop has begun.
func (s *supervisor) stopped() <-chan struct{} { return s.fetch.Done() }

func (s *supervisor) cancelWork() { s.cancelWorkFn() }

// stop ends fetching and waits for the components; when ctx ends first, their work
// is cancelled and they are waited for again, so none is running when stop
// returns (the pool is closed right after).
func (s *supervisor) stop(ctx context.Context) error {
	s.stopFetch()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		s.cancelWorkFn()
		return nil
	case <-ctx.Done():
	}
	s.cancelWorkFn()
	<-done
	return errors.New("shutdown timeout: work still under way was cancelled (sends in flight are settled by Meta's status webhooks)")
}
