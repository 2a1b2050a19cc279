// Package listen turns the trigger's pg_notify('whatsapp_sidecar', topic) into wake-ups
// of the components that work on that topic (event: the composer, message: the
// sender, config: the account registry). It is built on pgxlisten: it reconnects with
// a delay after a database restart and, on every (re)connect, wakes every component
// so none waits for a notification that was sent while nobody listened.
package listen

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgxlisten"
)

// Channel is the channel the triggers notify.
const Channel = "whatsapp_sidecar"

// Topics are the payloads the triggers send.
const (
	TopicEvent   = "event"
	TopicMessage = "message"
	TopicConfig  = "config"
	TopicInbox   = "inbox"
	TopicDiscuss = "discuss" // the discuss worker: an operator wrote, or Discuss is behind on a message
)

// Bell is a doorbell: Ring never blocks, and rings that come while nobody waits
// collapse into one.
type Bell chan struct{}

// NewBell returns a bell.
func NewBell() Bell { return make(Bell, 1) }

// Ring wakes the waiter, now or when it next waits.
func (b Bell) Ring() {
	select {
	case b <- struct{}{}:
	default:
	}
}

// Listener dispatches notifications to bells by topic.
type Listener struct {
	// Connect opens a dedicated connection (not from a pool: LISTEN holds it).
	Connect func(ctx context.Context) (*pgx.Conn, error)
	Logger  *slog.Logger
	// ReconnectDelay after a lost connection; zero means 2s.
	ReconnectDelay time.Duration

	mu        sync.Mutex
	bells     map[string][]Bell
	ready     chan struct{}
	once      sync.Once
	listening atomic.Bool
}

// Subscribe makes topic ring b.
func (l *Listener) Subscribe(topic string, b Bell) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.bells == nil {
		l.bells = map[string][]Bell{}
	}
	l.bells[topic] = append(l.bells[topic], b)
}

// Listening says whether LISTEN is in place now: false from a lost connection until
// the listener has reconnected (the components then only poll).
func (l *Listener) Listening() bool { return l.listening.Load() }

// Ready is closed once the first LISTEN is in place.
func (l *Listener) Ready() <-chan struct{} {
	l.init()
	return l.ready
}

func (l *Listener) init() {
	l.once.Do(func() { l.ready = make(chan struct{}) })
}

// Run listens until ctx ends.
func (l *Listener) Run(ctx context.Context) error {
	l.init()
	logger := l.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	delay := l.ReconnectDelay
	if delay == 0 {
		delay = 2 * time.Second
	}
	var readyOnce sync.Once
	inner := &pgxlisten.Listener{
		Connect:        l.Connect,
		ReconnectDelay: delay,
		LogError: func(ctx context.Context, err error) {
			l.listening.Store(false)
			if ctx.Err() != nil {
				return // stopping, not a failure
			}
			logger.Warn("database listener interrupted, reconnecting", "err", err, "in", delay)
		},
	}
	inner.Handle(Channel, handler{l: l, onBacklog: func() {
		l.listening.Store(true)
		readyOnce.Do(func() { close(l.ready) })
	}})
	err := inner.Listen(ctx)
	l.listening.Store(false)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// ringAll wakes every subscriber: after a (re)connect, anything may have happened.
func (l *Listener) ringAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, bells := range l.bells {
		for _, b := range bells {
			b.Ring()
		}
	}
}

func (l *Listener) ring(topic string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range l.bells[topic] {
		b.Ring()
	}
}

type handler struct {
	l         *Listener
	onBacklog func()
}

func (h handler) HandleNotification(_ context.Context, n *pgconn.Notification, _ *pgx.Conn) error {
	h.l.ring(n.Payload)
	return nil
}

// HandleBacklog runs after each LISTEN: the backlog is whatever the queues hold.
func (h handler) HandleBacklog(_ context.Context, _ string, _ *pgx.Conn) error {
	h.l.ringAll()
	h.onBacklog()
	return nil
}
