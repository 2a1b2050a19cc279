package emulator

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
)

// maxPendingWebhooks bounds the scheduled webhooks; beyond it new ones are
// dropped (and counted).
const maxPendingWebhooks = 1_000_000

type hookEvent struct {
	due     time.Time
	body    []byte
	attempt int
	kind    string
	waID    string
	wamid   string
	status  string
	code    int
	// next is scheduled once this one is delivered (or given up): a
	// message's statuses are posted one after the other.
	next *hookEvent
}

type eventHeap []*hookEvent

func (h eventHeap) Len() int           { return len(h) }
func (h eventHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h eventHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)        { *h = append(*h, x.(*hookEvent)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}

// webhooks schedules and POSTs webhooks: one scheduler goroutine releases
// due events to a pool of sender goroutines. They start with the first
// webhook and stop in close.
type webhooks struct {
	s *Server

	startOnce sync.Once
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup

	// outstanding counts the webhooks not yet acknowledged nor given up:
	// scheduled, being posted, waiting for a retry or for their turn in a chain.
	outstanding atomic.Int64

	mu      sync.Mutex
	pending eventHeap
	closed  bool
	dropped int
	wake    chan struct{}
	ready   chan *hookEvent
}

func newWebhooks(s *Server) *webhooks {
	ctx, cancel := context.WithCancel(context.Background())
	return &webhooks{s: s, ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1), ready: make(chan *hookEvent, 256)}
}

func (wh *webhooks) start() {
	wh.mu.Lock()
	defer wh.mu.Unlock()
	if wh.closed {
		return
	}
	wh.wg.Add(1 + wh.s.cfg.WebhookWorkers)
	go wh.schedule()
	for range wh.s.cfg.WebhookWorkers {
		go wh.send()
	}
}

func (wh *webhooks) close() {
	wh.mu.Lock()
	wh.closed = true
	wh.pending = nil
	wh.mu.Unlock()
	wh.cancel()
	wh.wg.Wait()
}

// submit schedules a new event and the chain after it; false if webhooks are
// off, closed or full.
func (wh *webhooks) submit(ev *hookEvent) bool {
	n := chainLen(ev)
	wh.outstanding.Add(n)
	if !wh.enqueue(ev) {
		wh.outstanding.Add(-n)
		return false
	}
	return true
}

func chainLen(ev *hookEvent) int64 {
	n := int64(0)
	for ; ev != nil; ev = ev.next {
		n++
	}
	return n
}

// enqueue schedules ev; false if webhooks are off, closed or full.
func (wh *webhooks) enqueue(ev *hookEvent) bool {
	if wh.s.cfg.WebhookURL == "" {
		return false
	}
	wh.mu.Lock()
	if wh.closed || len(wh.pending) >= maxPendingWebhooks {
		wh.dropped++
		wh.mu.Unlock()
		return false
	}
	heap.Push(&wh.pending, ev)
	wh.mu.Unlock()
	wh.startOnce.Do(wh.start)
	select {
	case wh.wake <- struct{}{}:
	default:
	}
	return true
}

func (wh *webhooks) schedule() {
	defer wh.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wh.mu.Lock()
		var next *hookEvent
		wait := time.Hour
		if len(wh.pending) > 0 {
			if d := time.Until(wh.pending[0].due); d <= 0 {
				next = heap.Pop(&wh.pending).(*hookEvent)
			} else {
				wait = d
			}
		}
		wh.mu.Unlock()
		if next != nil {
			select {
			case wh.ready <- next:
			case <-wh.ctx.Done():
				return
			}
			continue
		}
		timer.Reset(wait)
		select {
		case <-wh.ctx.Done():
			return
		case <-wh.wake:
		case <-timer.C:
		}
	}
}

func (wh *webhooks) send() {
	defer wh.wg.Done()
	for {
		select {
		case <-wh.ctx.Done():
			return
		case ev := <-wh.ready:
			wh.post(ev)
		}
	}
}

// post delivers one webhook; a non-2xx answer or a network error is retried
// with a doubling delay up to WebhookMaxAttempts, as Meta retries
// unacknowledged webhooks (D: webhooks/overview).
func (wh *webhooks) post(ev *hookEvent) {
	s := wh.s
	ev.attempt++
	req, err := http.NewRequestWithContext(wh.ctx, http.MethodPost, s.cfg.WebhookURL, bytes.NewReader(ev.body))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "facebookexternalua")
	if s.cfg.AppSecret != "" {
		req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign([]byte(s.cfg.AppSecret), ev.body))
	}
	d := WebhookDelivery{Time: s.now(), Due: ev.due, Kind: ev.kind, MessageID: ev.wamid, Status: ev.status, Attempt: ev.attempt, Body: ev.body}
	if ev.kind == "status" && ev.attempt == 1 {
		s.setStatus(ev.waID, ev.wamid, ev.status, ev.code)
	}
	resp, err := s.webhookClient.Do(req)
	if err == nil {
		resp.Body.Close()
		d.HTTPStatus = resp.StatusCode
	} else {
		d.Error = err.Error()
	}
	s.store.recordDelivery(d)
	if s.cfg.OnWebhook != nil {
		s.cfg.OnWebhook(d)
	}
	if wh.ctx.Err() != nil {
		return
	}
	k := s.knobs.Load()
	if err == nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
		wh.outstanding.Add(-1)
		wh.enqueueNext(ev)
		return
	}
	if ev.attempt >= k.WebhookMaxAttempts {
		s.log.Warn("emulator: webhook dropped after retries", "kind", ev.kind, "attempts", ev.attempt)
		wh.outstanding.Add(-1)
		wh.enqueueNext(ev)
		return
	}
	delay := k.WebhookRetryDelay << (ev.attempt - 1)
	if k.WebhookRetryMaxDelay > 0 {
		delay = min(delay, k.WebhookRetryMaxDelay)
	}
	ev.due = time.Now().Add(delay)
	if !wh.enqueue(ev) {
		wh.outstanding.Add(-chainLen(ev))
	}
}

func (wh *webhooks) enqueueNext(ev *hookEvent) {
	if next := ev.next; next != nil {
		ev.next = nil
		if now := time.Now(); next.due.Before(now) {
			next.due = now
		}
		if !wh.enqueue(next) {
			wh.outstanding.Add(-chainLen(next))
		}
	}
}

// statusPlan describes the statuses to report for an accepted message.
type statusPlan struct {
	phoneID  string
	waID     string
	wamid    string
	biz      string
	category string
	template bool
	failCode int
}

// statuses schedules sent → delivered → read (up to Knobs.StopAt), or one
// failed status with errors[] when failCode is set
// (D: webhooks/reference/messages/status).
func (wh *webhooks) statuses(p statusPlan, k *Knobs) {
	s := wh.s
	var seq []string
	switch {
	case p.failCode != 0:
		seq = []string{whatsapp.StatusFailed}
	case k.StopAt == whatsapp.StatusSent:
		seq = []string{whatsapp.StatusSent}
	case k.StopAt == whatsapp.StatusDelivered:
		seq = []string{whatsapp.StatusSent, whatsapp.StatusDelivered}
	default:
		seq = []string{whatsapp.StatusSent, whatsapp.StatusDelivered, whatsapp.StatusRead}
	}
	if s.cfg.WebhookURL == "" {
		// No receiver: the conversation still shows the final status.
		s.setStatus(p.waID, p.wamid, seq[len(seq)-1], p.failCode)
		return
	}
	now := time.Now()
	logical := s.now()
	events := make([]*hookEvent, len(seq))
	for i, st := range seq {
		ts := logical.Add(time.Duration(i+1) * k.StatusDelay)
		events[i] = &hookEvent{
			due: now.Add(time.Duration(i+1) * k.StatusDelay), body: s.statusPayload(p, st, ts),
			kind: "status", waID: p.waID, wamid: p.wamid, status: st, code: p.failCode,
		}
	}
	if k.ReorderRate > 0 && rand.Float64() < k.ReorderRate {
		// Statuses arrive newest first; their timestamps still tell the
		// true order, as Meta's do.
		for i, j := 0, len(events)-1; i < j; i, j = i+1, j-1 {
			events[i].due, events[j].due = events[j].due, events[i].due
			events[i], events[j] = events[j], events[i]
		}
	}
	for i, ev := range events {
		if k.DuplicateRate > 0 && rand.Float64() < k.DuplicateRate {
			dup := *ev
			wh.submit(&dup)
		}
		if i+1 < len(events) {
			ev.next = events[i+1]
		}
	}
	wh.submit(events[0])
}

func (s *Server) envelope(phoneID string, v whatsapp.WebhookValue) whatsapp.WebhookPayload {
	v.MessagingProduct = "whatsapp"
	v.Metadata = whatsapp.WebhookMetadata{DisplayPhoneNumber: s.cfg.DisplayPhoneNumber, PhoneNumberID: phoneID}
	return whatsapp.WebhookPayload{
		Object: "whatsapp_business_account",
		Entry: []whatsapp.WebhookEntry{{
			ID:      s.cfg.WABAID,
			Changes: []whatsapp.WebhookChange{{Value: v, Field: "messages"}},
		}},
	}
}

func (s *Server) statusPayload(p statusPlan, status string, ts time.Time) []byte {
	st := whatsapp.Status{
		ID: p.wamid, Status: status, Timestamp: strconv.FormatInt(ts.Unix(), 10),
		RecipientID: p.waID, BizOpaqueCallbackData: p.biz,
	}
	pricingType := "free_customer_service"
	if p.template {
		pricingType = "regular"
	}
	billable := p.template
	convID := conversationID(p.phoneID, p.waID)
	switch status {
	case whatsapp.StatusSent:
		st.Conversation = &whatsapp.Conversation{ID: convID,
			ExpirationTimestamp: strconv.FormatInt(ts.Add(24*time.Hour).Unix(), 10),
			Origin:              whatsapp.ConversationOrigin{Type: p.category}}
		st.Pricing = &whatsapp.Pricing{Billable: &billable, PricingModel: "PMP", Type: pricingType, Category: p.category}
	case whatsapp.StatusDelivered:
		st.Conversation = &whatsapp.Conversation{ID: convID, Origin: whatsapp.ConversationOrigin{Type: p.category}}
		st.Pricing = &whatsapp.Pricing{Billable: &billable, PricingModel: "PMP", Type: pricingType, Category: p.category}
	case whatsapp.StatusFailed:
		st.Errors = []whatsapp.WebhookError{webhookError(p.failCode)}
	}
	return jsonBody(s.envelope(p.phoneID, whatsapp.WebhookValue{Statuses: []whatsapp.Status{st}}))
}

// conversationID is a stable 32-hex-digit ID per business number and user.
func conversationID(phoneID, waID string) string {
	h := fnv64(phoneID + "/" + waID)
	return strconv.FormatUint(h, 16) + strconv.FormatUint(h^0x9e3779b97f4a7c15, 16)
}

func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// jsonRaw marshals v, for payloads kept in conversations.
func jsonRaw(v any) json.RawMessage { return jsonBody(v) }
