package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/outbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
)

// meter watches the closed loop from the emulator's side: every message request
// (by the row id in its biz_opaque_callback_data), every status webhook Meta
// posts and when it was due, and it plays the customers who answer.
type meter struct {
	replyShare float64 // share of order messages answered
	replyAfter time.Duration

	requests    atomic.Int64 // message requests of any kind
	orderMsgs   atomic.Int64 // "order created" messages (they carry the validate button)
	queuedMsgs  atomic.Int64 // rows the tool queued directly ("load N")
	statusesOK  atomic.Int64 // status webhooks the sidecar acknowledged
	statusesBad atomic.Int64 // status webhooks answered otherwise (retried by the emulator)
	replies     atomic.Int64 // customers' answers posted
	unanswered  atomic.Int64 // answers decided and not yet posted

	arrivals sync.Map // row id -> time the emulator read its request

	mu        sync.Mutex
	readDue   map[string]readTimes // wamid -> when its read webhook was due and acknowledged
	firstDue  time.Time
	lastAcked time.Time

	replyQ chan reply
}

// readTimes are when a message's read webhook was due (Meta would have posted it)
// and when the sidecar's webhook acknowledged it (stored).
type readTimes struct{ due, acked time.Time }

type reply struct {
	due time.Time
	in  emulator.Inbound
}

var (
	validateButton = []byte(`"id":"` + notify.ButtonValidateOrder)
	queuedText     = []byte(`"body":"load `)
	recipientKey   = []byte(`"to":"`)
	callbackKey    = []byte(`"biz_opaque_callback_data":"`)
)

func newMeter(replyShare float64, replyAfter time.Duration) *meter {
	return &meter{replyShare: replyShare, replyAfter: replyAfter, readDue: map[string]readTimes{}, replyQ: make(chan reply, 1<<16)}
}

// onMessage is the emulator's OnMessageRequest hook.
func (m *meter) onMessage(body []byte) {
	now := time.Now()
	m.requests.Add(1)
	if id := rowID(body); id != 0 {
		m.arrivals.Store(id, now)
	}
	switch {
	case bytes.Contains(body, validateButton):
		m.orderMsgs.Add(1)
		m.maybeReply(body, now)
	case bytes.Contains(body, queuedText):
		m.queuedMsgs.Add(1)
	}
}

// rowID finds biz_opaque_callback_data without decoding the whole request.
func rowID(body []byte) int {
	data, _ := stringAfter(body, callbackKey)
	return outbox.RowFromCallbackData(data)
}

// stringAfter returns the rest of the JSON string that key (ending inside it)
// starts in body, without decoding the whole request.
func stringAfter(body, key []byte) (string, bool) {
	i := bytes.Index(body, key)
	if i < 0 {
		return "", false
	}
	rest := body[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return "", false
	}
	return string(rest[:j]), true
}

// maybeReply picks, by a hash of the recipient so a rerun picks the same ones, the
// customers who answer an order message: half tap its "Valider" button (the
// sidecar confirms the order, which sends its confirmation), half write a text.
func (m *meter) maybeReply(body []byte, now time.Time) {
	if m.replyShare <= 0 {
		return
	}
	to, ok := stringAfter(body, recipientKey)
	if !ok {
		return
	}
	h := fnv.New64a()
	io.WriteString(h, to)
	x := float64(h.Sum64()%10000) / 10000
	if x >= m.replyShare {
		return
	}
	in := emulator.Inbound{From: to, Type: "text", Text: "Merci, bien reçu"}
	if x < m.replyShare/2 {
		order, ok := stringAfter(body, validateButton)
		if !ok {
			return
		}
		in = emulator.Inbound{From: to, Type: "button_reply", ID: notify.ButtonValidateOrder + order, Title: "Valider"}
	}
	m.unanswered.Add(1)
	select {
	case m.replyQ <- reply{due: now.Add(m.replyAfter), in: in}:
	default: // more answers waiting than any run makes: drop
		m.unanswered.Add(-1)
	}
}

// onWebhook is the emulator's OnWebhook hook.
func (m *meter) onWebhook(d emulator.WebhookDelivery) {
	if d.Kind != "status" {
		return
	}
	if d.HTTPStatus < 200 || d.HTTPStatus > 299 {
		m.statusesBad.Add(1)
		return
	}
	m.statusesOK.Add(1)
	acked := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.firstDue.IsZero() || d.Due.Before(m.firstDue) {
		m.firstDue = d.Due
	}
	if acked.After(m.lastAcked) {
		m.lastAcked = acked
	}
	if d.Status == whatsapp.StatusRead && d.Attempt == 1 {
		m.readDue[d.MessageID] = readTimes{due: d.Due, acked: acked}
	}
}

// window returns and resets the span of the status webhooks: from the first one due
// to the last one acknowledged.
func (m *meter) window() (first, last time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	first, last = m.firstDue, m.lastAcked
	m.firstDue, m.lastAcked = time.Time{}, time.Time{}
	return first, last
}

// takeReadDue returns and forgets the due times of the read webhooks so far.
func (m *meter) takeReadDue() map[string]readTimes {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.readDue
	m.readDue = map[string]readTimes{}
	return out
}

// answer posts the customers' answers when they are due, until ctx ends.
func (m *meter) answer(ctx context.Context, emu *emulator.Server, out io.Writer) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(out, "load: customers' answers stopped by a panic: %v\n%s", r, debug.Stack())
		}
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var r reply
		select {
		case <-ctx.Done():
			return
		case r = <-m.replyQ:
		}
		if d := time.Until(r.due); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		}
		if _, err := emu.SendInbound(r.in); err == nil {
			m.replies.Add(1)
		}
		m.unanswered.Add(-1)
	}
}

func (m *meter) arrivalOf(row int) (time.Time, bool) {
	v, ok := m.arrivals.Load(row)
	if !ok {
		return time.Time{}, false
	}
	return v.(time.Time), true
}

// replyQueueEmpty reports whether no customer's answer waits to be posted.
func (m *meter) replyQueueEmpty() bool { return m.unanswered.Load() == 0 }
