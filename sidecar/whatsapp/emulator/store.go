package emulator

import (
	"encoding/json"
	"hash/maphash"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"time"
)

// RecordedRequest is an API request the emulator answered, for tests to
// assert on. The access token is never recorded.
type RecordedRequest struct {
	Seq         uint64    `json:"seq"`
	Time        time.Time `json:"time"`
	Method      string    `json:"method"`
	Path        string    `json:"path"`
	Query       string    `json:"query,omitempty"`
	ContentType string    `json:"content_type,omitempty"`
	// Body is the JSON request body; BodyText holds a body that is not
	// valid JSON; multipart bodies are not kept.
	Body     json.RawMessage `json:"body,omitempty"`
	BodyText string          `json:"body_text,omitempty"`
	Status   int             `json:"status"`
	Response json.RawMessage `json:"response,omitempty"`
}

// ConversationMessage is a message the emulator accepted (Direction "out")
// or simulated from the user (Direction "in").
type ConversationMessage struct {
	ID            string    `json:"id"`
	WaID          string    `json:"wa_id"`
	PhoneNumberID string    `json:"phone_number_id"`
	Direction     string    `json:"direction"`
	Type          string    `json:"type"`
	Time          time.Time `json:"time"`
	// Status of an outbound message: accepted, sent, delivered, read or
	// failed; of an inbound one: received or read (after MarkRead).
	Status                string `json:"status"`
	ErrorCode             int    `json:"error_code,omitempty"`
	BizOpaqueCallbackData string `json:"biz_opaque_callback_data,omitempty"`
	// Payload is the send request body (out) or the webhook message (in).
	Payload json.RawMessage `json:"payload"`
}

// WebhookDelivery is one attempt to POST a webhook.
type WebhookDelivery struct {
	Seq        uint64          `json:"seq"`
	Time       time.Time       `json:"time"`
	Due        time.Time       `json:"due"`  // when it was to be posted
	Kind       string          `json:"kind"` // "status" or "inbound"
	MessageID  string          `json:"message_id"`
	Status     string          `json:"status,omitempty"`
	Attempt    int             `json:"attempt"`
	HTTPStatus int             `json:"http_status,omitempty"`
	Error      string          `json:"error,omitempty"`
	Body       json.RawMessage `json:"body"`
}

const shardCount = 16

type convShard struct {
	mu    sync.Mutex
	convs map[string][]*ConversationMessage
	byID  map[string]*ConversationMessage
}

// store keeps recorded requests, webhook deliveries (rings) and
// conversations (sharded by wa_id).
type store struct {
	maxRecorded int
	maxPerConv  int
	seed        maphash.Seed

	reqMu    sync.Mutex
	reqSeq   uint64
	requests []RecordedRequest // ring
	reqHead  int

	hookMu   sync.Mutex
	hookSeq  uint64
	hooks    []WebhookDelivery
	hookHead int

	shards [shardCount]convShard
}

func newStore(maxRecorded, maxPerConv int) *store {
	st := &store{maxRecorded: maxRecorded, maxPerConv: maxPerConv, seed: maphash.MakeSeed()}
	st.reset()
	return st
}

func (st *store) reset() {
	st.reqMu.Lock()
	st.requests, st.reqHead = nil, 0
	st.reqMu.Unlock()
	st.hookMu.Lock()
	st.hooks, st.hookHead = nil, 0
	st.hookMu.Unlock()
	for i := range st.shards {
		sh := &st.shards[i]
		sh.mu.Lock()
		sh.convs = map[string][]*ConversationMessage{}
		sh.byID = map[string]*ConversationMessage{}
		sh.mu.Unlock()
	}
}

func (st *store) record(r *http.Request, body []byte, status int, resp []byte, now time.Time) {
	rr := RecordedRequest{
		Time: now, Method: r.Method, Path: r.URL.Path, Query: safeQuery(r.URL),
		ContentType: r.Header.Get("Content-Type"), Status: status, Response: resp,
	}
	if len(body) > 0 {
		if json.Valid(body) {
			rr.Body = body
		} else {
			rr.BodyText = string(body)
		}
	}
	if !json.Valid(resp) {
		rr.Response = nil
	}
	st.reqMu.Lock()
	st.reqSeq++
	rr.Seq = st.reqSeq
	st.requests, st.reqHead = ringAppend(st.requests, st.reqHead, st.maxRecorded, rr)
	st.reqMu.Unlock()
}

// safeQuery drops access_token from a recorded query string.
func safeQuery(u *url.URL) string {
	if u.RawQuery == "" {
		return ""
	}
	q := u.Query()
	if !q.Has("access_token") {
		return u.RawQuery
	}
	q.Del("access_token")
	return q.Encode()
}

func ringAppend[T any](ring []T, head, limit int, v T) ([]T, int) {
	if len(ring) < limit {
		return append(ring, v), head
	}
	ring[head] = v
	return ring, (head + 1) % limit
}

func ringCopy[T any](ring []T, head int) []T {
	out := make([]T, 0, len(ring))
	out = append(out, ring[head:]...)
	return append(out, ring[:head]...)
}

func (st *store) requestsCopy() []RecordedRequest {
	st.reqMu.Lock()
	defer st.reqMu.Unlock()
	return ringCopy(st.requests, st.reqHead)
}

func (st *store) recordDelivery(d WebhookDelivery) {
	st.hookMu.Lock()
	st.hookSeq++
	d.Seq = st.hookSeq
	st.hooks, st.hookHead = ringAppend(st.hooks, st.hookHead, st.maxRecorded, d)
	st.hookMu.Unlock()
}

func (st *store) deliveriesCopy() []WebhookDelivery {
	st.hookMu.Lock()
	defer st.hookMu.Unlock()
	return ringCopy(st.hooks, st.hookHead)
}

func (st *store) shard(waID string) *convShard {
	return &st.shards[maphash.String(st.seed, waID)%shardCount]
}

func (st *store) addMessage(m ConversationMessage) {
	sh := st.shard(m.WaID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	conv := append(sh.convs[m.WaID], &m)
	if len(conv) > st.maxPerConv {
		delete(sh.byID, conv[0].ID)
		conv = append(conv[:0:0], conv[1:]...)
	}
	sh.convs[m.WaID] = conv
	sh.byID[m.ID] = &m
}

var statusRank = map[string]int{"accepted": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}

// setStatus moves an outbound message's status forward only: a late
// "delivered" never overwrites "read"; "failed" is final. It returns the
// message after the change, and whether it changed.
func (st *store) setStatus(waID, wamid, status string, code int) (ConversationMessage, bool) {
	sh := st.shard(waID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	m := sh.byID[wamid]
	if m == nil || statusRank[status] <= statusRank[m.Status] {
		return ConversationMessage{}, false
	}
	m.Status, m.ErrorCode = status, code
	return *m, true
}

// markInboundRead marks an inbound message read; false if unknown.
func (st *store) markInboundRead(wamid string) bool {
	for i := range st.shards {
		sh := &st.shards[i]
		sh.mu.Lock()
		m := sh.byID[wamid]
		if m != nil && m.Direction == "in" {
			m.Status = "read"
		}
		sh.mu.Unlock()
		if m != nil {
			return m.Direction == "in"
		}
	}
	return false
}

func (st *store) messages(waID string) []ConversationMessage {
	sh := st.shard(waID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	conv := sh.convs[waID]
	out := make([]ConversationMessage, len(conv))
	for i, m := range conv {
		out[i] = *m
	}
	return out
}

// lastOutbound returns the newest outbound messages to waID, newest first,
// for which keep returns true.
func (st *store) findOutbound(waID string, keep func(*ConversationMessage) bool) (ConversationMessage, bool) {
	sh := st.shard(waID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	conv := sh.convs[waID]
	for i := len(conv) - 1; i >= 0; i-- {
		if conv[i].Direction == "out" && keep(conv[i]) {
			return *conv[i], true
		}
	}
	return ConversationMessage{}, false
}

func (st *store) conversations() map[string][]ConversationMessage {
	out := map[string][]ConversationMessage{}
	for i := range st.shards {
		sh := &st.shards[i]
		sh.mu.Lock()
		for waID, conv := range sh.convs {
			ms := make([]ConversationMessage, len(conv))
			for j, m := range conv {
				ms[j] = *m
			}
			out[waID] = ms
		}
		sh.mu.Unlock()
	}
	return out
}

// Requests returns the recorded API requests, oldest first.
func (s *Server) Requests() []RecordedRequest { return s.store.requestsCopy() }

// PendingWebhooks counts the webhooks (statuses, inbound messages) not yet
// acknowledged by the receiver nor given up after WebhookMaxAttempts: 0 means
// everything the emulator had to tell has been told.
func (s *Server) PendingWebhooks() int { return int(s.hooks.outstanding.Load()) }

// Webhooks returns the recorded webhook delivery attempts, oldest first.
func (s *Server) Webhooks() []WebhookDelivery { return s.store.deliveriesCopy() }

// Messages returns the conversation with waID, oldest first.
func (s *Server) Messages(waID string) []ConversationMessage { return s.store.messages(digits(waID)) }

// Conversations returns every conversation by wa_id.
func (s *Server) Conversations() map[string][]ConversationMessage { return s.store.conversations() }

// ConversationIDs returns the wa_ids with a conversation, sorted.
func (s *Server) ConversationIDs() []string {
	convs := s.store.conversations()
	ids := make([]string, 0, len(convs))
	for id := range convs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
