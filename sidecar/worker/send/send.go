// Package send sends the queued whatsapp_message rows through the Cloud API: it
// claims due rows (FOR UPDATE SKIP LOCKED, with a lease), sends them concurrently
// while keeping each customer's messages in order and paced (Meta's pair rate limit),
// records Meta's answer on the row, sets the record's x_whatsapp_* flags and posts a
// chatter note. Retryable failures go back to the queue with a backoff; final ones
// are recorded once with Meta's code and a readable message.
package send

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/time/rate"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/accounts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/invoicepdf"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/listen"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/outbox"
)

// Sender sends queued messages. Set the exported fields, then call Run.
type Sender struct {
	Pool     *pgxpool.Pool
	Accounts *accounts.Registry
	PDFs     *invoicepdf.Source
	// DataDir is Odoo's data_dir, where attachments not in the database live.
	DataDir string
	Logger  *slog.Logger
	Metrics *Metrics
	// Bell wakes the sender (the listener rings it on 'message').
	Bell listen.Bell

	// Concurrency is how many customers are served at once; zero means 300 per
	// sending number (at Meta's 200 ms per request, 1,000 msg/s on one number
	// needs 200 in flight).
	Concurrency int
	// BatchSize rows per claim; zero means 200.
	BatchSize int
	// Lease is how long a claimed row stays 'sending' before another sender may
	// take it again: long enough for Meta's status webhook to settle a send whose
	// answer was lost. Zero means 2 minutes.
	Lease time.Duration
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

	once    sync.Once
	mu      sync.Mutex
	lanes   map[string]*lane
	pairs   map[string]*rate.Limiter
	wg      sync.WaitGroup
	free    chan struct{} // a lane ended: there is room to claim more
	results chan result
}

func (s *Sender) defaults() { s.once.Do(s.setDefaults) }

func (s *Sender) setDefaults() {
	if s.BatchSize == 0 {
		s.BatchSize = 200
	}
	if s.Lease == 0 {
		s.Lease = 2 * time.Minute
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
	s.lanes = map[string]*lane{}
	s.pairs = map[string]*rate.Limiter{}
	s.free = make(chan struct{}, 1)
}

// lane serialises one customer's messages: they go out in queue order, paced.
type lane struct {
	pending []outbox.Pending
}

// Run sends until ctx ends, then stops claiming, finishes the sends under way and
// records them before returning (bound it with the caller's shutdown deadline: a
// send cut short stays 'sending' and its lease makes it safe).
func (s *Sender) Run(ctx context.Context) error {
	s.defaults()
	stopRecorder := s.startRecorder(ctx)
	defer stopRecorder()
	// Sends outlive ctx: a message half sent is finished, not abandoned.
	work := context.WithoutCancel(ctx)
	poll := time.NewTicker(s.PollInterval)
	defer poll.Stop()
	var nextDue <-chan time.Time
	for ctx.Err() == nil {
		room := s.concurrency() - s.active()
		claimed := 0
		if room > 0 {
			batch, err := outbox.Claim(ctx, s.Pool, min(room, s.BatchSize), s.Lease)
			if err != nil && ctx.Err() == nil {
				s.Logger.Warn("claiming messages to send", "err", err)
			}
			claimed = len(batch)
			for _, p := range batch {
				s.dispatch(work, p)
			}
			if claimed == min(room, s.BatchSize) {
				continue // more may be due right now
			}
			nextDue = s.nextDue(ctx)
		}
		select {
		case <-ctx.Done():
		case <-s.Bell:
		case <-s.free:
		case <-poll.C:
		case <-nextDue:
		}
	}
	return nil
}

// Drain sends every row due now, waits for the answers and records them: one pass
// of Run, for tests and the CLI. Do not call it while Run runs.
func (s *Sender) Drain(ctx context.Context) (int, error) {
	s.defaults()
	stopRecorder := s.startRecorder(ctx)
	defer stopRecorder()
	total := 0
	for {
		batch, err := outbox.Claim(ctx, s.Pool, s.BatchSize, s.Lease)
		if err != nil {
			return total, err
		}
		for _, p := range batch {
			s.dispatch(ctx, p)
		}
		total += len(batch)
		if len(batch) == 0 {
			return total, nil
		}
		s.wg.Wait() // retries due at once come back in the next claim
	}
}

// startRecorder starts the goroutine that records results; the returned function
// waits for the sends under way, then for their recording.
func (s *Sender) startRecorder(ctx context.Context) func() {
	s.results = make(chan result, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.record(context.WithoutCancel(ctx))
	}()
	return func() {
		s.wg.Wait()
		close(s.results)
		<-done
	}
}

// nextDue fires when the earliest row waiting for a retry becomes due.
func (s *Sender) nextDue(ctx context.Context) <-chan time.Time {
	var wait *float64
	err := s.Pool.QueryRow(ctx, `
		SELECT EXTRACT(EPOCH FROM min(next_attempt_at) - (now() AT TIME ZONE 'utc'))::float8
		FROM whatsapp_message WHERE status IN ('queued', 'sending') AND direction = 'out' AND next_attempt_at IS NOT NULL`).Scan(&wait)
	if err != nil || wait == nil {
		return nil
	}
	d := time.Duration(*wait * float64(time.Second))
	if d < 10*time.Millisecond {
		d = 10 * time.Millisecond
	}
	if d > s.PollInterval {
		return nil
	}
	return time.After(d)
}

func (s *Sender) concurrency() int {
	if s.Concurrency > 0 {
		return s.Concurrency
	}
	return 300 * max(1, len(s.Accounts.All()))
}

func (s *Sender) active() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.lanes)
}

// laneKey groups a customer's rows: by number as written, else by partner.
func laneKey(p outbox.Pending) string {
	if p.Phone != "" {
		return "p:" + p.Phone
	}
	return "c:" + strconv.Itoa(p.ContactID)
}

func (s *Sender) dispatch(ctx context.Context, p outbox.Pending) {
	key := laneKey(p)
	s.mu.Lock()
	if l, ok := s.lanes[key]; ok {
		l.pending = append(l.pending, p)
		s.mu.Unlock()
		return
	}
	l := &lane{}
	s.lanes[key] = l
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			s.deliver(ctx, p)
			s.mu.Lock()
			if len(l.pending) == 0 {
				delete(s.lanes, key)
				s.mu.Unlock()
				select {
				case s.free <- struct{}{}:
				default:
				}
				return
			}
			p, l.pending = l.pending[0], l.pending[1:]
			s.mu.Unlock()
		}
	}()
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
