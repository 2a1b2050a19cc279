package invoicepdf

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// How the sidecar tells that Odoo answers its users slower than usual. Before each
// report request it times a trivial request that queues where users' requests queue
// (odooweb.Client.Ping: Odoo's /web/health, through a worker and a database cursor)
// and compares it with the median of the recent answers that were judged fast.
const (
	// Busy: slower than busyFactor times the baseline and by more than busyMargin
	// (a few milliseconds of jitter on a 3 ms baseline is not a queue), or slower
	// than busyAbsolute whatever the baseline (no baseline yet, or a bad one).
	busyFactor   = 3
	busyMargin   = 50 * time.Millisecond
	busyAbsolute = time.Second
	// The baseline: the median of the last baselineSize fast answers no older than
	// baselineAge, so a lasting change of Odoo's usual speed (another host, another
	// network) becomes the usual within that age.
	baselineSize = 16
	baselineAge  = time.Hour
	// probeTimeout bounds one probe; a probe that takes that long says busy.
	probeTimeout = 10 * time.Second
	// While busy: probe again after firstPause, doubling up to maxPause.
	firstPause = 500 * time.Millisecond
	maxPause   = 8 * time.Second
	// reportWait bounds what one invoice waits at Odoo's door (a free report slot,
	// Odoo answering as usual) before it is rendered here instead: well inside the
	// sender's SEND_TIMEOUT (60 s), which also covers the report and the upload.
	reportWait = 30 * time.Second
)

// clock is the time the gate and the cache see; tests replace it.
type clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// errOdooBusy: Odoo kept answering slower than usual for reportWait.
var errOdooBusy = errors.New("odoo answers slower than usual")

type busyError struct {
	waited, latency, baseline time.Duration
}

func (e *busyError) Error() string {
	usual := "no usual time yet"
	if e.baseline > 0 {
		usual = "usually " + e.baseline.Round(time.Millisecond).String()
	}
	return fmt.Sprintf("odoo answered a trivial request in %s (%s), slower than usual for %s",
		e.latency.Round(time.Millisecond), usual, e.waited.Round(time.Second))
}

func (e *busyError) Unwrap() error { return errOdooBusy }

// gate says when a report request may go to Odoo. Its state is shared by all
// invoices: a busy spell that has lasted reportWait already makes the next
// invoice give up after one probe, not wait reportWait again.
type gate struct {
	clock clock
	probe func(context.Context) (time.Duration, error)

	mu        sync.Mutex
	fast      []sample  // the recent fast answers, oldest first
	busySince time.Time // first busy answer of the current spell; zero when not busy
}

type sample struct {
	at      time.Time
	latency time.Duration
}

// wait returns nil as soon as a probe says Odoo answers as usual. While it says
// busy, wait probes again after a growing pause; when Odoo has been busy since
// reportWait before now (counted from start, when this invoice began waiting, or
// from the start of the busy spell if that is earlier), it returns a *busyError.
func (g *gate) wait(ctx context.Context, start time.Time) error {
	pause := firstPause
	for {
		latency, err := g.measure(ctx)
		if err != nil {
			return err
		}
		now := g.clock.Now()
		busy, baseline, since := g.judge(now, latency)
		if !busy {
			return nil
		}
		from := start
		if since.Before(from) {
			from = since
		}
		waited := now.Sub(from)
		if waited >= reportWait {
			return &busyError{waited: waited, latency: latency, baseline: baseline}
		}
		select {
		case <-g.clock.After(min(pause, reportWait-waited)):
		case <-ctx.Done():
			return fmt.Errorf("wait for Odoo to answer as usual: %w", context.Cause(ctx))
		}
		pause = min(2*pause, maxPause)
	}
}

// measure runs one probe. A probe that timed out (probeTimeout) is an answer: a
// very slow one.
func (g *gate) measure(ctx context.Context) (time.Duration, error) {
	latency, err := g.probe(ctx)
	switch {
	case err == nil:
		return latency, nil
	case ctx.Err() != nil:
		return 0, fmt.Errorf("probe Odoo: %w", context.Cause(ctx))
	case errors.Is(err, context.DeadlineExceeded):
		return probeTimeout, nil
	default:
		return 0, fmt.Errorf("probe Odoo: %w", err)
	}
}

// judge applies the rule to one answer, records it, and returns the baseline it was
// judged against (0: none) and, when busy, since when Odoo has been busy.
func (g *gate) judge(now time.Time, latency time.Duration) (busy bool, baseline time.Duration, since time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.fast = slices.DeleteFunc(g.fast, func(s sample) bool { return now.Sub(s.at) > baselineAge })
	known := len(g.fast) > 0
	if known {
		latencies := make([]time.Duration, len(g.fast))
		for i, s := range g.fast {
			latencies[i] = s.latency
		}
		slices.Sort(latencies)
		baseline = latencies[len(latencies)/2]
	}
	busy = latency > busyAbsolute || known && latency > busyFactor*baseline && latency > baseline+busyMargin
	if busy {
		if g.busySince.IsZero() {
			g.busySince = now
		}
		return true, baseline, g.busySince
	}
	g.busySince = time.Time{}
	if len(g.fast) == baselineSize {
		g.fast = slices.Delete(g.fast, 0, 1)
	}
	g.fast = append(g.fast, sample{at: now, latency: latency})
	return false, baseline, time.Time{}
}
