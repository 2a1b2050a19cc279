package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/outbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
)

// streamBuffer is how many events an open page may be behind before it is cut
// off (it reconnects and starts again from a fresh snapshot).
const streamBuffer = 256

// dbTimeout bounds each read of Odoo's database.
const dbTimeout = 5 * time.Second

// maxCachedRows bounds the row cache; past it the cache starts again empty.
const maxCachedRows = 10_000

// hub reads the emulator's feed once for every open page: each event is turned
// into the page's form (one database read at most) and handed to every stream.
type hub struct {
	emu   *emulator.Server
	db    *odooReader
	views viewer
	log   *slog.Logger

	feed *emulator.Feed // the current subscription; only run touches it after newHub

	mu      sync.Mutex
	streams map[*stream]struct{}

	cacheMu sync.Mutex
	rows    map[int]rowInfo // whatsapp_message id -> what it is about; rows never change record
}

// stream is one open page's share of the events.
type stream struct {
	frames chan []byte
	gone   chan struct{} // closed when the hub drops the stream
}

// newHub subscribes at once, so a page that joins as soon as the server starts
// misses nothing between its snapshot and the events.
func newHub(emu *emulator.Server, db *odooReader, log *slog.Logger) *hub {
	return &hub{emu: emu, db: db, views: viewer{emu: emu}, log: log, feed: emu.Subscribe(),
		streams: map[*stream]struct{}{}, rows: map[int]rowInfo{}}
}

// join adds a stream. Join first, then take the snapshot: an event may be in
// both (the page applies it twice, harmlessly), none is in neither.
func (h *hub) join() *stream {
	st := &stream{frames: make(chan []byte, streamBuffer), gone: make(chan struct{})}
	h.mu.Lock()
	h.streams[st] = struct{}{}
	h.mu.Unlock()
	return st
}

func (h *hub) leave(st *stream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.streams[st]; ok {
		delete(h.streams, st)
		close(st.gone)
	}
}

// broadcast hands frame to every stream without waiting: a page that cannot keep
// up is dropped and reconnects.
func (h *hub) broadcast(frame []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for st := range h.streams {
		select {
		case st.frames <- frame:
		default:
			delete(h.streams, st)
			close(st.gone)
		}
	}
}

// dropAll ends every stream: after a gap in the feed, each page starts again
// from a snapshot.
func (h *hub) dropAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for st := range h.streams {
		delete(h.streams, st)
		close(st.gone)
	}
}

// run reads the feed until ctx ends. A feed cut off because the hub fell behind,
// or a panic while handling an event, ends every stream (the pages reconnect to
// fresh snapshots) and the hub subscribes again.
func (h *hub) run(ctx context.Context) {
	defer func() { h.feed.Close() }()
	for {
		err := h.readFeed(ctx)
		if ctx.Err() != nil {
			return
		}
		h.feed.Close()
		h.feed = h.emu.Subscribe()
		h.dropAll()
		h.log.Warn("sandbox page: events missed, the open pages reload", "err", err)
		if errors.Is(err, errPanic) {
			select { // a handler that panics on every event must not spin
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}
}

var errPanic = errors.New("panic")

func (h *hub) readFeed(ctx context.Context) (err error) {
	defer func() {
		if r := recover(); r != nil {
			h.log.Error("sandbox page: panic handling an event", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("%w: %v", errPanic, r)
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-h.feed.Events():
			if !ok {
				return h.feed.Err()
			}
			h.handle(ctx, ev)
		}
	}
}

// pageEvent is what a stream carries after the snapshot.
type pageEvent struct {
	Type    string       `json:"type"` // "message" or "reset"
	Message *messageView `json:"message,omitempty"`
}

func (h *hub) handle(ctx context.Context, ev emulator.Event) {
	if ev.Type == emulator.EventReset {
		h.cacheMu.Lock()
		h.rows = map[int]rowInfo{}
		h.cacheMu.Unlock()
		h.broadcast(frame("reset", pageEvent{Type: "reset"}))
		return
	}
	m := ev.Message
	v := h.views.view(m)
	var replied []messageView
	if m.Direction == "in" && v.ContextID != "" {
		// The message replied to says which record the answer is about.
		for _, cm := range h.emu.Messages(m.WaID) {
			if cm.ID == v.ContextID {
				replied = append(replied, h.views.view(cm))
			}
		}
	}
	h.enrich(ctx, []*messageView{&v}, replied)
	h.broadcast(frame("message", pageEvent{Type: "message", Message: &v}))
}

// describe turns one conversation's messages into views with what Odoo says of
// them (one query for the rows not seen before).
func (h *hub) describe(ctx context.Context, msgs []emulator.ConversationMessage) []messageView {
	views := make([]messageView, len(msgs))
	ptrs := make([]*messageView, len(msgs))
	for i, m := range msgs {
		views[i] = h.views.view(m)
		ptrs[i] = &views[i]
	}
	h.enrich(ctx, ptrs, views)
	return views
}

// enrich fills Record, Contact and Business from the messages' rows; an inbound
// message takes the record of the message it replies to, found in conv.
func (h *hub) enrich(ctx context.Context, targets []*messageView, conv []messageView) {
	var ids []int
	for _, v := range conv {
		if v.rowID != 0 {
			ids = append(ids, v.rowID)
		}
	}
	for _, v := range targets {
		if v.rowID != 0 {
			ids = append(ids, v.rowID)
		}
	}
	rows := h.rowInfos(ctx, ids)
	byID := make(map[string]int, len(conv))
	for _, v := range conv {
		byID[v.ID] = v.rowID
	}
	for _, v := range targets {
		row := v.rowID
		if v.Direction == "in" && v.ContextID != "" {
			row = byID[v.ContextID]
		}
		info, ok := rows[row]
		if !ok {
			continue
		}
		if info.Model != "" && info.ResID != 0 {
			v.Record = &recordRef{Model: info.Model, ID: info.ResID}
		}
		v.partnerID = info.PartnerID
		if v.Direction == "out" {
			v.Contact, v.Business = info.Partner, info.Business
		}
	}
}

// rowInfos returns what the rows say, from the cache or one query.
func (h *hub) rowInfos(ctx context.Context, ids []int) map[int]rowInfo {
	out := make(map[int]rowInfo, len(ids))
	var missing []int
	h.cacheMu.Lock()
	for _, id := range ids {
		if r, ok := h.rows[id]; ok {
			out[id] = r
		} else {
			missing = append(missing, id)
		}
	}
	h.cacheMu.Unlock()
	if len(missing) == 0 {
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	found, err := h.db.rows(ctx, missing)
	if err != nil {
		// The page still shows the message, without its record or names.
		h.log.Warn("sandbox page: reading the messages' rows", "err", err)
		return out
	}
	h.cacheMu.Lock()
	if len(h.rows)+len(found) > maxCachedRows {
		h.rows = map[int]rowInfo{}
	}
	for id, r := range found {
		h.rows[id] = r
		out[id] = r
	}
	h.cacheMu.Unlock()
	return out
}

// chatView is one customer's conversation.
type chatView struct {
	WaID     string        `json:"wa_id"`
	Name     string        `json:"name,omitempty"`
	Messages []messageView `json:"messages"`

	partnerID int // the customer in Odoo, 0 if unknown
}

// snapshotView is what a page starts from.
type snapshotView struct {
	Business string     `json:"business,omitempty"`
	Lang     string     `json:"lang"`
	Chats    []chatView `json:"chats"`
}

// chat describes one conversation, named from its rows, else from the
// whatsapp_conversation the inbox keeps.
func (h *hub) chat(ctx context.Context, waID string) chatView {
	chats := h.chats(ctx, map[string][]emulator.ConversationMessage{waID: h.emu.Messages(waID)})
	if len(chats) == 0 {
		return chatView{WaID: waID, Messages: []messageView{}}
	}
	return chats[0]
}

// A page starts from the most recent conversations and their latest messages:
// what a person reads, not a load test's backlog.
const (
	maxSnapshotChats = 100
	maxChatMessages  = 200
)

// chats describes the most recent conversations, the most recent first, each
// with its latest messages.
func (h *hub) chats(ctx context.Context, convs map[string][]emulator.ConversationMessage) []chatView {
	waIDs := make([]string, 0, len(convs))
	for waID, msgs := range convs {
		if len(msgs) > 0 {
			waIDs = append(waIDs, waID)
		}
	}
	last := func(waID string) time.Time { ms := convs[waID]; return ms[len(ms)-1].Time }
	sort.Slice(waIDs, func(i, j int) bool { return last(waIDs[i]).After(last(waIDs[j])) })
	waIDs = waIDs[:min(len(waIDs), maxSnapshotChats)]
	recent := make(map[string][]emulator.ConversationMessage, len(waIDs))
	var rowIDs []int
	for _, waID := range waIDs {
		msgs := convs[waID]
		recent[waID] = msgs[max(0, len(msgs)-maxChatMessages):]
		for _, m := range recent[waID] {
			if id := rowFromCallback(m.BizOpaqueCallbackData); id != 0 {
				rowIDs = append(rowIDs, id)
			}
		}
	}
	h.rowInfos(ctx, rowIDs) // one query for every chat; describe then reads the cache

	out := make([]chatView, 0, len(waIDs))
	var unnamed []string
	for _, waID := range waIDs {
		c := chatView{WaID: waID, Messages: h.describe(ctx, recent[waID])}
		for i := len(c.Messages) - 1; i >= 0; i-- {
			m := c.Messages[i]
			if c.Name == "" && m.Contact != "" {
				c.Name = m.Contact
			}
			if c.partnerID == 0 && m.partnerID != 0 {
				c.partnerID = m.partnerID
			}
		}
		if c.Name == "" || c.partnerID == 0 {
			unnamed = append(unnamed, waID)
		}
		out = append(out, c)
	}
	if len(unnamed) > 0 {
		qctx, cancel := context.WithTimeout(ctx, dbTimeout)
		names, err := h.db.conversations(qctx, unnamed)
		cancel()
		if err != nil {
			h.log.Warn("sandbox page: reading the conversations", "err", err)
		}
		for i := range out {
			c := names[out[i].WaID]
			if out[i].Name == "" {
				out[i].Name = c.Name
			}
			if out[i].partnerID == 0 {
				out[i].partnerID = c.PartnerID
			}
		}
	}
	return out
}

// records lists the records a chat's messages are about, newest first.
func (c chatView) records() []recordRef {
	var out []recordRef
	seen := map[recordRef]bool{}
	for i := len(c.Messages) - 1; i >= 0; i-- {
		if r := c.Messages[i].Record; r != nil && !seen[*r] {
			seen[*r] = true
			out = append(out, *r)
		}
	}
	return out
}

// frame is one server-sent event.
func frame(event string, v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		// Only plain structs are marshalled: this is a bug, say so on the page.
		data, _ = json.Marshal(map[string]string{"type": "error", "error": err.Error()})
	}
	b := make([]byte, 0, len(data)+len(event)+16)
	b = append(b, "event: "...)
	b = append(b, event...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	return append(b, "\n\n"...)
}

func rowFromCallback(biz string) int { return outbox.RowFromCallbackData(biz) }
