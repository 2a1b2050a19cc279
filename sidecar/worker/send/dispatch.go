package send

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/outbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/owner"
)

// dispatcher records dispatches (outbox rule 2) for the rows about to be sent,
// committing those that come while one commit is under way together: one
// statement for many requests under load, one round trip for a lone message.
type dispatcher struct {
	r       *run
	mu      sync.Mutex
	pending []dispatchRequest
	kick    chan struct{}
	quit    chan struct{}
	done    chan struct{}
}

type dispatchRequest struct {
	id     int
	answer chan dispatchAnswer
}

type dispatchAnswer struct {
	mine bool  // recorded: the request may leave
	err  error // recording failed; owner.ErrLost when the claim is void
}

func newDispatcher(r *run) *dispatcher {
	d := &dispatcher{r: r, kick: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go d.loop()
	return d
}

// mark records the dispatch of row id and says whether its request may leave. When
// it may not, the row is dealt with here: given back if this owner still holds it
// (recording failed: it certainly did not leave), left to rescue otherwise.
func (d *dispatcher) mark(c outbox.Claimed) bool {
	req := dispatchRequest{id: c.ID, answer: make(chan dispatchAnswer, 1)}
	d.mu.Lock()
	d.pending = append(d.pending, req)
	d.mu.Unlock()
	select {
	case d.kick <- struct{}{}:
	default:
	}
	var a dispatchAnswer
	select {
	case a = <-req.answer:
	case <-d.done:
		a.err = errors.New("sender stopping")
	}
	if a.mine {
		return true
	}
	if a.err != nil && !errors.Is(a.err, owner.ErrLost) {
		d.r.s.Logger.Warn("recording a dispatch failed: the message is given back, unsent", "message", c.ID, "err", a.err)
		d.r.release(c)
	}
	return false
}

func (d *dispatcher) stop() {
	close(d.quit)
	<-d.done
}

func (d *dispatcher) loop() {
	defer close(d.done)
	for {
		select {
		case <-d.quit:
			d.answerAll(dispatchAnswer{err: errors.New("sender stopping")})
			return
		case <-d.kick:
			d.flush()
		}
	}
}

func (d *dispatcher) take() []dispatchRequest {
	d.mu.Lock()
	defer d.mu.Unlock()
	batch := d.pending
	d.pending = nil
	return batch
}

func (d *dispatcher) answerAll(a dispatchAnswer) {
	for _, req := range d.take() {
		req.answer <- a
	}
}

func (d *dispatcher) flush() {
	for {
		batch := d.take()
		if len(batch) == 0 {
			return
		}
		if d.r.dead.Load() {
			for _, req := range batch {
				req.answer <- dispatchAnswer{err: owner.ErrLost}
			}
			continue
		}
		ids := make([]int, len(batch))
		for i, req := range batch {
			ids[i] = req.id
		}
		ctx, cancel := context.WithTimeout(d.r.work, 5*time.Second)
		mine, err := outbox.Dispatch(ctx, d.r.owner, ids)
		cancel()
		ok := make(map[int]bool, len(mine))
		for _, id := range mine {
			ok[id] = true
		}
		for _, req := range batch {
			req.answer <- dispatchAnswer{mine: err == nil && ok[req.id], err: err}
		}
	}
}
