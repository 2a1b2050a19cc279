package emulator

import (
	"errors"
	"sync"
)

// EventType says what an Event reports.
type EventType string

const (
	// EventMessageAccepted: the API accepted an outbound message (answered 200
	// with its wamid).
	EventMessageAccepted EventType = "message_accepted"
	// EventStatusSent: an outbound message's status moved forward (sent,
	// delivered, read or failed) as its status webhook was posted for the first
	// time (or, with no webhook URL, recorded). Statuses that would move it
	// backward (duplicates, reordered webhooks) report nothing.
	EventStatusSent EventType = "status_sent"
	// EventCustomerMessage: a simulated user wrote (SendInbound).
	EventCustomerMessage EventType = "customer_message"
	// EventReset: Reset forgot every conversation.
	EventReset EventType = "reset"
)

// Event is one change to the conversations, for live views such as the
// sandbox page.
type Event struct {
	// Seq increases by one per event, across all feeds.
	Seq  uint64
	Type EventType
	// Message is the message as it is after the event, status included; zero
	// for EventReset.
	Message ConversationMessage
}

// FeedBuffer is how many events a Feed holds for a reader that is busy; one
// more and the feed ends with ErrFeedOverflow.
const FeedBuffer = 1024

// ErrFeedOverflow ends a Feed whose reader fell FeedBuffer events behind: the
// emulator never waits for a reader. What was missed is in Conversations:
// subscribe again, then read them.
var ErrFeedOverflow = errors.New("emulator: feed reader fell behind")

// Feed delivers the emulator's events from Subscribe on, in order.
type Feed struct {
	hub *feedHub
	c   chan Event
	err error // guarded by hub.mu
}

// Events is closed when the feed ends: Close, or ErrFeedOverflow (see Err).
func (f *Feed) Events() <-chan Event { return f.c }

// Err is ErrFeedOverflow once the feed ended because its reader fell behind,
// nil otherwise.
func (f *Feed) Err() error {
	f.hub.mu.Lock()
	defer f.hub.mu.Unlock()
	return f.err
}

// Close ends the feed; it may be called more than once.
func (f *Feed) Close() {
	f.hub.mu.Lock()
	defer f.hub.mu.Unlock()
	if _, ok := f.hub.feeds[f]; ok {
		delete(f.hub.feeds, f)
		close(f.c)
	}
}

// Subscribe starts a feed of the events from now on. Subscribe first, then
// read Conversations: together they miss nothing (an event may show in both;
// Event.Message is the message's whole state, so applying it twice is
// harmless). The caller must Close it.
func (s *Server) Subscribe() *Feed {
	f := &Feed{hub: &s.feeds, c: make(chan Event, FeedBuffer)}
	s.feeds.mu.Lock()
	defer s.feeds.mu.Unlock()
	if s.feeds.feeds == nil {
		s.feeds.feeds = map[*Feed]struct{}{}
	}
	s.feeds.feeds[f] = struct{}{}
	return f
}

// feedHub fans events out to the feeds; its zero value has no feed.
type feedHub struct {
	mu    sync.Mutex
	seq   uint64
	feeds map[*Feed]struct{}
}

// publish numbers ev and hands it to every feed without waiting: a full feed
// ends. Under one lock, so every feed sees the same order.
func (h *feedHub) publish(t EventType, m ConversationMessage) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	ev := Event{Seq: h.seq, Type: t, Message: m}
	for f := range h.feeds {
		select {
		case f.c <- ev:
		default:
			f.err = ErrFeedOverflow
			delete(h.feeds, f)
			close(f.c)
		}
	}
}

// addMessage stores a message the API accepted or a user sent, and reports it.
func (s *Server) addMessage(m ConversationMessage) {
	s.store.addMessage(m)
	t := EventMessageAccepted
	if m.Direction == "in" {
		t = EventCustomerMessage
	}
	s.feeds.publish(t, m)
}

// setStatus moves an outbound message's status forward and reports it.
func (s *Server) setStatus(waID, wamid, status string, code int) {
	if m, changed := s.store.setStatus(waID, wamid, status, code); changed {
		s.feeds.publish(EventStatusSent, m)
	}
}
