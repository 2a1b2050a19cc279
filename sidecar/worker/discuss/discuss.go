// Package discuss is the WhatsApp inbox inside Odoo Discuss. It moves data between
// the sidecar's whatsapp_message / whatsapp_conversation rows and Odoo's Discuss
// (package odoo/discuss writes Odoo's rows and bus notifications):
//
//   - every conversation gets a private channel whose members are its
//     configuration's operators, named after the customer and number;
//   - every message of a conversation, the customer's (authored by their partner, or
//     by a partner created for an unknown number, media as attachments) and ours
//     (notifications, button answers, replies), is posted there, live, and our
//     messages' delivery status follows under them (Odoo 16 has none of its own);
//   - what an operator types there (captured by a trigger on mail_message, after
//     Odoo's commit: package capture) becomes a queued whatsapp_message (outbox),
//     sent once; outside the 24-hour window, or to a customer who opted out, it is
//     not sent and the channel says why, and offers the approved templates;
//   - the channel says when the window closes, when the customer opts out, and when
//     the conversation is assigned, closed or reopened (in the channel with /assign,
//     /close, /reopen, or in WhatsApp > Conversations).
//
// The worker wakes on the 'discuss' notification (an operator wrote; a customer's
// message was recorded) and looks at the partial index of rows behind four times a
// second (a sent message or a status that moved notifies nobody: the sender's and
// the webhook's statements pay nothing for Discuss). Each change is one short transaction under a
// transaction-level advisory lock, so replicas never post the same message twice,
// and the bus NOTIFY goes out after it commits.
package discuss

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/accounts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify/texts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo"
	odiscuss "github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/discuss"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/listen"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/metrics"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/capture"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/outbox"
)

// replyKind is the kind of the messages operators write in Discuss; approved
// templates mapped to it (whatsapp_template.notification_kind) are offered outside
// the window.
const replyKind = "discuss_reply"

// postsPerTx is how many messages one transaction posts: one lock, one bus write
// and one NOTIFY for all of them.
const postsPerTx = 50

// lockKey serialises the worker's transactions across replicas: the first 8 bytes
// of sha256("whatsapp_sidecar.discuss").
const lockKey int64 = 0x2f6b1c0e93d4a715

// Worker keeps Discuss in step. Set the exported fields, then call Run (or Drain).
type Worker struct {
	Pool     *pgxpool.Pool
	Accounts *accounts.Registry // nil: French texts, no account defaults
	// Notifier sends NOTIFY imbus; nil means one connecting to the database named
	// postgres with Pool's configuration, as Odoo does.
	Notifier *odiscuss.Notifier
	Logger   *slog.Logger
	// Bell wakes the worker: the 'discuss' notification.
	Bell listen.Bell
	// PollInterval is the safety net when a notification is lost; zero means 5s.
	PollInterval time.Duration
	// BehindInterval is how often the partial index of messages Discuss is behind
	// on is looked at (a status that moved notifies nobody); zero means 250ms.
	BehindInterval time.Duration
	// WindowInterval is how often closed 24-hour windows are looked for; zero
	// means 30s.
	WindowInterval time.Duration
	// BatchSize rows per pass; zero means 100.
	BatchSize int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Metrics; nil counts nothing.
	Metrics *Metrics

	mu      sync.Mutex
	failing map[int]retry // rows whose post failed, by id: tried again later, not at every look
}

// retry is when a row that failed is tried again.
type retry struct {
	attempts int
	next     time.Time
}

// Metrics of the Discuss worker.
type Metrics struct {
	posts     *prometheus.CounterVec
	operators *prometheus.CounterVec
	lag       prometheus.Histogram
}

// NewMetrics registers the worker's metrics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		posts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "discuss", Name: "posts_total",
			Help: "Messages written into Discuss channels, by what: customer, ours (a message we sent), status (a status moved), notice.",
		}, []string{"what"}),
		operators: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "discuss", Name: "operator_messages_total",
			Help: "Messages operators wrote in WhatsApp channels, by outcome: queued, refused (window closed, opted out, no such template), command.",
		}, []string{"outcome"}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: metrics.Namespace, Subsystem: "discuss", Name: "lag_seconds",
			Help:    "Time from a customer's message being recorded to its post in Discuss committed.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
	}
	reg.MustRegister(m.posts, m.operators, m.lag)
	return m
}

func (w *Worker) countPost(what string) {
	if w.Metrics != nil {
		w.Metrics.posts.WithLabelValues(what).Inc()
	}
}

func (w *Worker) countOperator(outcome string) {
	if w.Metrics != nil {
		w.Metrics.operators.WithLabelValues(outcome).Inc()
	}
}

func (w *Worker) defaults() {
	if w.Logger == nil {
		w.Logger = slog.New(slog.DiscardHandler)
	}
	if w.Bell == nil {
		w.Bell = listen.NewBell()
	}
	if w.PollInterval <= 0 {
		w.PollInterval = 5 * time.Second
	}
	if w.BehindInterval <= 0 {
		w.BehindInterval = 250 * time.Millisecond
	}
	if w.WindowInterval <= 0 {
		w.WindowInterval = 30 * time.Second
	}
	if w.BatchSize <= 0 {
		w.BatchSize = 100
	}
	if w.Now == nil {
		w.Now = time.Now
	}
	if w.Notifier == nil {
		w.Notifier = &odiscuss.Notifier{Connect: func(ctx context.Context) (*pgx.Conn, error) {
			cfg := w.Pool.Config().ConnConfig.Copy()
			cfg.Database = "postgres"
			return pgx.ConnectConfig(ctx, cfg)
		}}
	}
}

// Run keeps Discuss in step until ctx ends: everything when the bell rings and
// every PollInterval; the messages Discuss is behind on whenever the partial index
// says there are some (looked at every BehindInterval: a status that moved rings no
// bell); the closed windows every WindowInterval and when the next one closes.
func (w *Worker) Run(ctx context.Context) error {
	w.defaults()
	defer w.Notifier.Close(context.WithoutCancel(ctx))
	poll := time.NewTicker(w.PollInterval)
	defer poll.Stop()
	behind := time.NewTicker(w.BehindInterval)
	defer behind.Stop()
	closes := time.NewTimer(time.Hour) // reset to the next 24-hour window to close
	defer closes.Stop()
	var lastWindows time.Time
	all, windows := true, true
	for {
		if windows || time.Since(lastWindows) >= w.WindowInterval {
			windows = true
		}
		if _, err := w.drain(ctx, all, windows); err != nil && ctx.Err() == nil {
			w.Logger.Warn("keeping Discuss in step with WhatsApp, will retry", "err", err)
		}
		if windows {
			lastWindows = time.Now()
			// Wake when the next open window closes, so the channel says so on time
			// rather than at the next look.
			if next, ok, err := nextWindowClose(ctx, w.Pool); err != nil && ctx.Err() == nil {
				w.Logger.Warn("reading when the next 24-hour window closes", "err", err)
			} else if ok {
				closes.Reset(max(next, 0) + 100*time.Millisecond)
			}
		}
		all, windows = false, false
	wait:
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-w.Bell:
				all = true
			case <-poll.C:
				all = true
			case <-closes.C:
				windows = true
			case <-behind.C:
				late, err := outbox.DiscussBehind(ctx, w.Pool)
				if err != nil && ctx.Err() == nil {
					w.Logger.Warn("looking for messages Discuss is behind on", "err", err)
				}
				if !late {
					continue
				}
			}
			break wait
		}
	}
}

// Drain does everything due now (captured operator messages, messages Discuss is
// behind on, closed windows) and returns how many changes it made.
func (w *Worker) Drain(ctx context.Context) (int, error) {
	w.defaults()
	return w.drain(ctx, true, true)
}

// drain posts what Discuss is behind on, with captures the operators' messages
// first, with windows the closed windows after.
func (w *Worker) drain(ctx context.Context, captures, windows bool) (int, error) {
	total := 0
	var errs []error
	if captures {
		n, err := w.captures(ctx)
		total += n
		errs = append(errs, err)
	}
	for ctx.Err() == nil {
		listed, err := outbox.DiscussPending(ctx, w.Pool, w.BatchSize)
		if err != nil {
			errs = append(errs, err)
			break
		}
		rows := w.due(listed)
		done := 0
		for start := 0; start < len(rows); start += postsPerTx {
			chunk := rows[start:min(start+postsPerTx, len(rows))]
			err := w.safely(ctx, func(ctx context.Context) error {
				n, err := w.mirror(ctx, chunk)
				done += n
				return err
			})
			if errors.Is(err, errPanic) {
				// One row panicked in the batch: each on its own, the panicking one
				// set aside for a while.
				for _, r := range chunk {
					err := w.safely(ctx, func(ctx context.Context) error {
						n, err := w.mirror(ctx, []outbox.DiscussRow{r})
						done += n
						return err
					})
					if errors.Is(err, errPanic) {
						w.settled(r.ID, err)
					}
					errs = append(errs, err)
				}
				continue
			}
			errs = append(errs, err)
		}
		total += done
		if len(listed) < w.BatchSize || done == 0 {
			break
		}
	}
	if windows {
		n, err := w.windows(ctx)
		total += n
		errs = append(errs, err)
	}
	return total, errors.Join(errs...)
}

// due are the rows not waiting for a retry after a failure.
func (w *Worker) due(rows []outbox.DiscussRow) []outbox.DiscussRow {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	out := rows[:0:0]
	for _, r := range rows {
		if f, ok := w.failing[r.ID]; ok && now.Before(f.next) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// settled records the outcome of one row's post: a failure is tried again after
// a growing delay (1 s to 5 min), a success forgets earlier failures.
func (w *Worker) settled(id int, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err == nil {
		delete(w.failing, id)
		return
	}
	if w.failing == nil {
		w.failing = map[int]retry{}
	}
	f := w.failing[id]
	f.next = time.Now().Add(backoff(f.attempts))
	f.attempts++
	w.failing[id] = f
}

var errPanic = errors.New("panic")

// safely runs fn, turning a panic into an error: one bad row does not stop the
// others.
func (w *Worker) safely(ctx context.Context, fn func(context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			w.Logger.Error("Discuss worker panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("%w: %v", errPanic, r)
		}
	}()
	return fn(ctx)
}

// change runs fn in one short transaction marked as the sidecar's, under the
// worker's lock, then writes its bus notifications and sends their NOTIFY once it
// has committed.
func (w *Worker) change(ctx context.Context, fn func(tx pgx.Tx, refs odiscuss.Refs, bus *odiscuss.Bus) error) error {
	var payloads []string
	err := odoo.WithLockTimeout(ctx, w.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey); err != nil {
			return fmt.Errorf("take the Discuss lock: %w", err)
		}
		if err := odiscuss.MarkWriter(ctx, tx); err != nil {
			return err
		}
		refs, err := odiscuss.LoadRefs(ctx, tx)
		if err != nil {
			return err
		}
		bus := odiscuss.NewBus(refs.DB)
		if err := fn(tx, refs, bus); err != nil {
			return err
		}
		if err := bus.Write(ctx, tx, w.Now()); err != nil {
			return err
		}
		payloads = bus.Payloads()
		return nil
	})
	if err != nil {
		return err
	}
	if err := w.Notifier.Notify(ctx, payloads); err != nil {
		// Committed: the message shows on the next notification or a reload.
		w.Logger.Warn("Discuss updated, but open pages are not told (they show it on reload)", "err", err)
	}
	return nil
}

// words are the texts of a configuration's language.
func (w *Worker) words(configID int) words {
	if w.Accounts != nil {
		if a := w.Accounts.ByConfigID(configID); a != nil {
			return words{lang: a.Lang}
		}
		if all := w.Accounts.All(); configID == 0 && len(all) == 1 {
			return words{lang: all[0].Lang}
		}
	}
	return words{lang: texts.French}
}

// account is the configuration's account, or the only one.
func (w *Worker) account(configID int) *accounts.Account {
	if w.Accounts == nil {
		return nil
	}
	if a := w.Accounts.ByConfigID(configID); a != nil {
		return a
	}
	if all := w.Accounts.All(); configID == 0 && len(all) == 1 {
		return all[0]
	}
	return nil
}

// backoff for a capture that failed: 1 s doubling to 5 min.
func backoff(attempt int) time.Duration {
	return min(time.Second<<min(attempt, 9), 5*time.Minute)
}

// captures acts on what the triggers captured, one capture per transaction.
func (w *Worker) captures(ctx context.Context) (int, error) {
	done := 0
	for ctx.Err() == nil {
		var claimed *capture.Capture
		var outcomes []string
		err := w.change(ctx, func(tx pgx.Tx, refs odiscuss.Refs, bus *odiscuss.Bus) error {
			cs, err := capture.Claim(ctx, tx, 1)
			if err != nil || len(cs) == 0 {
				return err
			}
			claimed = &cs[0]
			switch claimed.Kind {
			case capture.KindMessage:
				outcomes, err = w.operatorMessages(ctx, tx, refs, bus, claimed.ResIDs)
			case capture.KindConversation:
				err = w.conversationChanges(ctx, tx, refs, bus, *claimed)
			}
			if err != nil {
				return err
			}
			return capture.Delete(ctx, tx, claimed.ID)
		})
		if claimed == nil {
			return done, err
		}
		if err != nil {
			if ctx.Err() != nil {
				return done, err
			}
			w.Logger.Warn("acting on an operator's message in Discuss failed, will retry", "capture", claimed.ID, "err", err)
			if rerr := capture.Retry(context.WithoutCancel(ctx), w.Pool, *claimed, time.Now().Add(backoff(claimed.Attempts)), err.Error()); rerr != nil {
				return done, rerr
			}
			continue
		}
		for _, o := range outcomes {
			w.countOperator(o)
		}
		done++
	}
	return done, ctx.Err()
}
