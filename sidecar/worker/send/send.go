// Package send sends the queued whatsapp_message rows through the Cloud API. It
// claims due rows as its owner (package owner: claims die with the process), one
// per customer at a time so each customer's messages go in order, paced (Meta's
// pair rate limit) and within the number's rate limit; records the dispatch of each
// request before it leaves (outbox rule 2), then Meta's answer. Retryable failures
// go back to the queue with a backoff; final ones are recorded once with Meta's code
// and a readable message; a lost answer makes the row 'unknown', settled by Meta's
// status webhook or, with no news, by the UNKNOWN_RESEND_AFTER policy.
//
// What the sidecar writes back into Odoo about a sent message (chatter note,
// x_whatsapp_* flags) is not done here but by package writeback, from the row.
package send

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/accounts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/invoicepdf"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/listen"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/outbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/owner"
)

// Sender sends queued messages. Set the exported fields, then call Run (or Drain).
type Sender struct {
	Pool     *pgxpool.Pool
	Accounts *accounts.Registry
	PDFs     *invoicepdf.Source
	// DataDir is Odoo's data_dir, where attachments not in the database live.
	DataDir string
	Logger  *slog.Logger
	Metrics *Metrics
	// Panics counts the rows set aside because sending them panicked; may be nil.
	Panics prometheus.Counter
	// Bell wakes the sender (the listener rings it on 'message').
	Bell listen.Bell
	// Recorded is rung after answers are recorded (the write-back into Odoo waits
	// for them); may be nil.
	Recorded listen.Bell
	// Connect opens the connection the sender's owner lives on (its claims die
	// with it); nil means a new connection with Pool's configuration.
	Connect func(ctx context.Context) (*pgx.Conn, error)
	// Unknown is what becomes of a send whose answer was lost and that Meta's
	// status webhooks never settle.
	Unknown outbox.UnknownPolicy

	// Concurrency is how many customers are served at once; zero means 300 per
	// sending number (at Meta's 200 ms per request, 1,000 msg/s on one number
	// needs 200 in flight).
	Concurrency int
	// BatchSize rows per claim; zero means 200.
	BatchSize int
	// PollInterval is the safety net when a notification is lost; zero means 5s.
	PollInterval time.Duration
	// MaxAttempts for retryable errors before a row fails; zero means 8.
	MaxAttempts int
	// PairInterval and PairBurst pace messages to one customer (Meta's pair rate
	// limit: about one per 6 s, short bursts allowed). Zero means 6s and 5.
	PairInterval time.Duration
	PairBurst    int
	// SendTimeout bounds one send (upload included); zero means 60s.
	SendTimeout time.Duration
	// Backoff is the wait before retry n of a transient error; nil means
	// exponential with jitter, 5 s to 30 min.
	Backoff func(attempt int) time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Hooks are named points where a test stops the sender as if its process
	// died; nil in production.
	Hooks *Hooks

	once  sync.Once
	mu    sync.Mutex
	pairs map[string]*rate.Limiter
}

// Hooks are the sender's fault-injection points. Each is called with the rows at
// that point; returning ErrCrash makes the sender die there: it stops at once,
// writes nothing more, and closes its owner connection, as a kill -9 would leave
// the database (the requests already out still reach Meta).
type Hooks struct {
	AfterClaim    func(ids []int) error // claimed, nothing sent
	Started       func(id int) error    // one row's delivery begins (a test may panic here)
	AfterDispatch func(id int) error    // dispatch recorded, request not yet sent
	AfterAnswer   func(id int) error    // Meta accepted, answer not yet recorded
	AfterRecord   func(ids []int) error // answers recorded
}

// ErrCrash is what a hook returns to make the sender die at its point.
var ErrCrash = errors.New("send: crashed at a test hook")

func (s *Sender) defaults() { s.once.Do(s.setDefaults) }

func (s *Sender) setDefaults() {
	if s.BatchSize == 0 {
		s.BatchSize = 200
	}
	if s.PollInterval == 0 {
		s.PollInterval = 5 * time.Second
	}
	if s.MaxAttempts == 0 {
		s.MaxAttempts = 8
	}
	if s.PairInterval == 0 {
		s.PairInterval = 6 * time.Second
	}
	if s.PairBurst == 0 {
		s.PairBurst = 5
	}
	if s.SendTimeout == 0 {
		s.SendTimeout = 60 * time.Second
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Backoff == nil {
		s.Backoff = backoff
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.Bell == nil {
		s.Bell = listen.NewBell()
	}
	if s.Connect == nil {
		s.Connect = func(ctx context.Context) (*pgx.Conn, error) {
			return pgx.ConnectConfig(ctx, s.Pool.Config().ConnConfig.Copy())
		}
	}
	s.pairs = map[string]*rate.Limiter{}
}

// Run sends until fetch ends, then stops claiming, gives back the rows not yet
// dispatched, lets the requests under way finish and records them. Cancelling work
// cuts those requests short: their rows become 'unknown', for Meta's status
// webhooks to settle. A lost owner connection (a database restart) voids the claims
// and Run goes on with a new owner once the database answers.
func (s *Sender) Run(fetch, work context.Context) error {
	s.defaults()
	delay := time.Second
	for fetch.Err() == nil {
		err := s.runOwned(fetch, work, false, nil)
		if errors.Is(err, ErrCrash) {
			return err
		}
		if fetch.Err() != nil {
			return nil
		}
		s.Logger.Warn("sender lost its database connection: its claims are void, starting again", "err", err, "in", delay)
		select {
		case <-fetch.Done():
		case <-time.After(delay):
		}
		delay = min(delay*2, 30*time.Second)
	}
	return nil
}

// Drain sends every row due now, waits for the answers and records them, then
// returns how many rows it claimed: one pass of Run, for tests and the CLI.
func (s *Sender) Drain(ctx context.Context) (int, error) {
	s.defaults()
	var total atomic.Int64
	err := s.runOwned(ctx, ctx, true, &total)
	return int(total.Load()), err
}

// run is one owner's life: its claims, its dispatches, its recorder.
type run struct {
	s        *Sender
	owner    *owner.Owner
	fetch    context.Context
	work     context.Context
	dead     atomic.Bool // a hook crashed it: write nothing more
	inflight sync.WaitGroup
	active   atomic.Int64
	free     chan struct{}
	recorder *recorder
	dispatch *dispatcher

	// dueStale says the earliest retry time must be read again: at the start, at
	// each poll, when it fell due, and after this run requeued a row for later.
	// Only senders set a later next_attempt_at (a row queued by anyone else is due
	// at once), so between those it moves earlier only by another process's retry,
	// which the poll finds; the loop does not ask after every claim (a commit each).
	dueStale atomic.Bool
	dueAt    time.Time // the loop's goroutine only
	dueKnown bool
}

// runOwned is one owner's life: it claims and sends until fetch ends (drain: until
// nothing is due), the owner is lost or a hook crashes it.
func (s *Sender) runOwned(fetch, work context.Context, drain bool, total *atomic.Int64) (err error) {
	o, err := owner.Acquire(fetch, s.Connect)
	if err != nil {
		return err
	}
	watch, stopWatch := context.WithCancel(work)
	go o.Watch(watch, 2*time.Second)
	r := &run{s: s, owner: o, fetch: fetch, work: work, free: make(chan struct{}, 1)}
	r.dueStale.Store(true)
	r.recorder = newRecorder(r)
	r.dispatch = newDispatcher(r)
	defer func() {
		// The requests under way finish (or are cut short by work), then their
		// answers are recorded, then what the owner still holds is given back
		// (a claim whose answer the stop made us miss), then the owner goes.
		r.inflight.Wait()
		r.dispatch.stop()
		r.recorder.stop()
		if !r.dead.Load() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(work), 5*time.Second)
			if left, err := outbox.Leave(ctx, s.Pool, o.ID, s.Unknown); err != nil {
				s.Logger.Warn("giving back the messages still claimed (the next sender rescues them)", "err", err)
			} else if left.Requeued+left.Unknown > 0 {
				s.Logger.Info("gave back the messages still claimed", "requeued", left.Requeued, "unknown", left.Unknown)
			}
			cancel()
		}
		stopWatch()
		_ = o.Close(context.WithoutCancel(work))
		if r.dead.Load() {
			err = ErrCrash
		}
	}()
	if rescued, err := outbox.Rescue(fetch, s.Pool, s.Unknown); err != nil {
		s.Logger.Warn("rescuing the messages of stopped senders", "err", err)
	} else {
		s.observeRescue(rescued)
	}
	poll := time.NewTicker(s.PollInterval)
	defer poll.Stop()
	idle := false
	for fetch.Err() == nil && !r.dead.Load() {
		select {
		case <-o.Lost():
			return owner.ErrLost
		default:
		}
		room := s.concurrency() - int(r.active.Load())
		claimed := 0
		if room > 0 {
			// Claimed on work, not fetch: a claim cut short by the stop could
			// commit without our knowing which rows it took.
			batch, err := outbox.Claim(work, o, min(room, s.BatchSize), 4*min(room, s.BatchSize))
			if err != nil {
				if errors.Is(err, owner.ErrLost) {
					return err
				}
				if fetch.Err() == nil {
					s.Logger.Warn("claiming messages to send", "err", err)
				}
			}
			claimed = len(batch)
			if total != nil {
				total.Add(int64(claimed))
			}
			if claimed > 0 && r.hook(func(h *Hooks) error { return callIDs(h.AfterClaim, claimedIDs(batch)) }) {
				return ErrCrash
			}
			if fetch.Err() != nil {
				break // stopping: Leave gives them back
			}
			for _, c := range batch {
				r.start(c)
			}
			if claimed == min(room, s.BatchSize) {
				continue // more may be due right now
			}
		}
		if drain {
			if claimed == 0 && r.active.Load() == 0 {
				if idle {
					return nil // a claim after everything was recorded found nothing
				}
				// The customer of a row just sent is free once its answer is
				// recorded: claim once more after recording.
				r.recorder.flushNow()
				idle = true
				continue
			}
			idle = false
			select {
			case <-fetch.Done():
			case <-r.free:
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		select {
		case <-fetch.Done():
		case <-o.Lost():
		case <-s.Bell:
		case <-r.free:
		case <-poll.C:
			r.dueStale.Store(true)
			if rescued, err := outbox.Rescue(fetch, s.Pool, s.Unknown); err == nil {
				s.observeRescue(rescued)
			}
		case <-r.nextDue():
			r.dueStale.Store(true)
		}
	}
	return nil
}

// nextDue fires when the earliest row waiting for a retry becomes due, if that is
// sooner than the poll.
func (r *run) nextDue() <-chan time.Time {
	if r.dueStale.Swap(false) {
		d, ok, err := outbox.NextDue(r.fetch, r.s.Pool)
		if err != nil {
			r.dueStale.Store(true)
			return nil
		}
		r.dueAt, r.dueKnown = time.Now().Add(d), ok
	}
	if !r.dueKnown {
		return nil
	}
	d := time.Until(r.dueAt)
	if d > r.s.PollInterval {
		return nil
	}
	return time.After(max(d, 10*time.Millisecond))
}

// hook calls a hook; true means the sender died there.
func (r *run) hook(call func(*Hooks) error) bool {
	if r.s.Hooks == nil || r.dead.Load() {
		return r.dead.Load()
	}
	if err := call(r.s.Hooks); errors.Is(err, ErrCrash) {
		r.die()
		return true
	}
	return false
}

// die makes this run write nothing more and drops its owner: the database is left
// as a kill -9 at this instant would leave it.
func (r *run) die() {
	if r.dead.CompareAndSwap(false, true) {
		_ = r.owner.Close(context.WithoutCancel(r.work))
	}
}

func callIDs(f func([]int) error, ids []int) error {
	if f == nil {
		return nil
	}
	return f(ids)
}

func callID(f func(int) error, id int) error {
	if f == nil {
		return nil
	}
	return f(id)
}

func claimedIDs(batch []outbox.Claimed) []int {
	ids := make([]int, len(batch))
	for i, c := range batch {
		ids[i] = c.ID
	}
	return ids
}

// start sends one claimed row in its own goroutine.
func (r *run) start(c outbox.Claimed) {
	r.active.Add(1)
	r.inflight.Add(1)
	go func() {
		defer func() {
			r.active.Add(-1)
			r.inflight.Done()
			select {
			case r.free <- struct{}{}:
			default:
			}
		}()
		r.deliver(c)
	}()
}

func (s *Sender) concurrency() int {
	if s.Concurrency > 0 {
		return s.Concurrency
	}
	return 300 * max(1, len(s.Accounts.All()))
}

// pair returns the pacing limiter of one customer's number.
func (s *Sender) pair(e164 string) *rate.Limiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.pairs[e164]
	if !ok {
		if len(s.pairs) > 100_000 {
			// Forget idle customers: a full limiter is the same as a new one.
			for k, v := range s.pairs {
				if v.Tokens() >= float64(s.PairBurst) {
					delete(s.pairs, k)
				}
			}
		}
		l = rate.NewLimiter(rate.Every(s.PairInterval), s.PairBurst)
		s.pairs[e164] = l
	}
	return l
}
