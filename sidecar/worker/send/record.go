package send

import (
	"context"
	"sync"
	"time"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/outbox"
)

// recorder writes accepted sends in batches: one statement per batch (at a thousand
// messages a second, a statement each would cost more than the sends). A batch
// whose write fails is kept and written again, each attempt bounded, until it is
// written or the work is cancelled: only then is it left to the rows' rescue
// (dispatched, so 'unknown', settled by Meta's status webhooks).
type recorder struct {
	r       *run
	mu      sync.Mutex
	pending []outbox.Sent
	wake    chan struct{}
	flushed chan chan struct{}
	done    chan struct{}
	quit    chan struct{}
}

const (
	recordEvery    = 20 * time.Millisecond
	recordMaxBatch = 500
)

func newRecorder(r *run) *recorder {
	rec := &recorder{r: r, wake: make(chan struct{}, 1), flushed: make(chan chan struct{}), done: make(chan struct{}), quit: make(chan struct{})}
	go rec.loop()
	return rec
}

// add queues one answer for the next batch.
func (rec *recorder) add(s outbox.Sent) {
	rec.mu.Lock()
	rec.pending = append(rec.pending, s)
	full := len(rec.pending) >= recordMaxBatch
	rec.mu.Unlock()
	if full {
		select {
		case rec.wake <- struct{}{}:
		default:
		}
	}
}

// flushNow writes what is pending and returns once it is written (or given up).
func (rec *recorder) flushNow() {
	ack := make(chan struct{})
	select {
	case rec.flushed <- ack:
		<-ack
	case <-rec.done:
	}
}

// stop writes what is pending, then ends the loop.
func (rec *recorder) stop() {
	close(rec.quit)
	<-rec.done
}

func (rec *recorder) loop() {
	defer close(rec.done)
	ticker := time.NewTicker(recordEvery)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			rec.flush()
		case <-rec.wake:
			rec.flush()
		case ack := <-rec.flushed:
			rec.flush()
			close(ack)
		case <-rec.quit:
			rec.flush()
			return
		}
	}
}

// flush writes everything pending, batch by batch.
func (rec *recorder) flush() {
	r := rec.r
	for {
		rec.mu.Lock()
		n := min(len(rec.pending), recordMaxBatch)
		batch := append([]outbox.Sent(nil), rec.pending[:n]...)
		rec.mu.Unlock()
		if n == 0 || r.dead.Load() {
			return
		}
		if !rec.write(batch) {
			return // work cancelled: left to rescue
		}
		rec.mu.Lock()
		rec.pending = rec.pending[n:]
		rec.mu.Unlock()
		if r.s.Recorded != nil {
			r.s.Recorded.Ring()
		}
		// The customers of these rows are free for their next message now.
		select {
		case r.free <- struct{}{}:
		default:
		}
		ids := make([]int, len(batch))
		for i, s := range batch {
			ids[i] = s.RowID
		}
		if r.hook(func(h *Hooks) error { return callIDs(h.AfterRecord, ids) }) {
			return
		}
	}
}

// write writes one batch, again and again while the database is away.
func (rec *recorder) write(batch []outbox.Sent) bool {
	r := rec.r
	delay := 200 * time.Millisecond
	for {
		// Cancelled work still gets one brief attempt: the answers are known.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.work), 5*time.Second)
		if r.work.Err() != nil {
			ctx, cancel = context.WithTimeout(context.WithoutCancel(r.work), 2*time.Second)
		}
		err := outbox.MarkSent(ctx, r.s.Pool, batch)
		cancel()
		if err == nil {
			return true
		}
		if r.work.Err() != nil || r.dead.Load() {
			r.s.Logger.Error("recording sent messages cut short by the stop (Meta's status webhooks settle them)",
				"messages", len(batch), "err", err)
			return false
		}
		r.s.Logger.Warn("recording sent messages, will retry", "messages", len(batch), "in", delay, "err", err)
		select {
		case <-r.work.Done():
		case <-time.After(delay):
		}
		delay = min(delay*2, 5*time.Second)
	}
}
