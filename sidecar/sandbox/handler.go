package sandbox

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
)

//go:embed assets
var assets embed.FS

// heartbeat keeps an idle event stream open through proxies and finds pages
// that went away.
const heartbeat = 20 * time.Second

// writeTimeout bounds each write to a page.
const writeTimeout = 10 * time.Second

// pageCSP keeps the page to its own assets: nothing is loaded from elsewhere.
const pageCSP = "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; script-src 'self'; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

func (s *Server) handler(loopback bool) http.Handler {
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded directory exists: checked by the tests
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", pageCSP)
		http.ServeFileFS(w, r, static, "index.html")
	})
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServerFS(static)))
	mux.HandleFunc("GET /api/events", s.serveEvents)
	mux.HandleFunc("GET /api/chats/{wa_id}/odoo", s.servePanel)
	mux.HandleFunc("POST /api/chats/{wa_id}/messages", s.serveCustomerMessage)
	mux.HandleFunc("GET /media/{id}", s.serveMedia)
	// Taps and texts act on the database: only the page itself may send them.
	h := http.NewCrossOriginProtection().Handler(noCache(mux))
	if loopback {
		h = checkHost(h)
	}
	return h
}

func noCache(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

// checkHost refuses, on a loopback listener, requests for any other host name:
// a web page elsewhere cannot rebind its own name to 127.0.0.1 and read the
// conversations.
func checkHost(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.Trim(host, "[]")
		if !isLoopbackHost(host) {
			http.Error(w, "the sandbox page answers on this machine's loopback address only", http.StatusMisdirectedRequest)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// serveEvents is the page's live feed (server-sent events): a snapshot of every
// conversation, then each message and status as the emulator reports it.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	st := s.hub.join()
	defer s.hub.leave(st)
	ctx := r.Context()
	snap, err := s.snapshot(ctx)
	if err != nil {
		s.log.Warn("sandbox page: snapshot", "err", err)
		http.Error(w, "reading the sandbox's state: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	rc := http.NewResponseController(w)
	// The listener's read timeout would end the stream (net/http cancels the
	// request when its background read times out); writes get their own deadline.
	_ = rc.SetReadDeadline(time.Time{})
	write := func(b []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	// retry: reconnect after a second (the stream ends on a gap, or a restart).
	if !write(append([]byte("retry: 1000\n\n"), frame("snapshot", snap)...)) {
		return
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.closing:
			return
		case <-st.gone:
			return
		case f := <-st.frames:
			if !write(f) {
				return
			}
		case <-tick.C:
			if !write([]byte(": heartbeat\n\n")) {
				return
			}
		}
	}
}

func (s *Server) snapshot(ctx context.Context) (snapshotView, error) {
	qctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	set, err := s.hub.db.settings(qctx)
	if err != nil {
		return snapshotView{}, err
	}
	return snapshotView{Business: set.Business, Lang: string(set.Lang), Chats: s.hub.chats(ctx, s.opts.Emulator.Conversations())}, nil
}

// servePanel answers a chat's "in Odoo" panel, read now: the page asks when a
// message about the chat arrives, or when the person opens or taps the panel.
func (s *Server) servePanel(w http.ResponseWriter, r *http.Request) {
	c := s.hub.chat(r.Context(), r.PathValue("wa_id"))
	ctx, cancel := context.WithTimeout(r.Context(), dbTimeout)
	defer cancel()
	set, err := s.hub.db.settings(ctx)
	if err == nil {
		var pv panelView
		if pv, err = s.hub.db.panel(ctx, set.Lang, c.partnerID, c.records()); err == nil {
			writeJSON(w, http.StatusOK, pv)
			return
		}
	}
	s.log.Warn("sandbox page: Odoo panel", "err", err)
	writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
}

// customerMessage is what the person does as the customer: tap a reply button
// or list row, tap a template's quick reply, or type a text.
type customerMessage struct {
	// Type is text, button_reply, list_reply or button (template quick reply).
	Type      string `json:"type"`
	Text      string `json:"text,omitempty"`
	ID        string `json:"id,omitempty"`
	Title     string `json:"title,omitempty"`
	Payload   string `json:"payload,omitempty"`
	ContextID string `json:"context_id,omitempty"`
}

// maxTextRunes is Meta's limit on a text message's body.
const maxTextRunes = 4096

// serveCustomerMessage sends what the person did to the sidecar, through the
// emulator: a signed webhook, as Meta posts it.
func (s *Server) serveCustomerMessage(w http.ResponseWriter, r *http.Request) {
	var cm customerMessage
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cm); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "decode body: " + err.Error()})
		return
	}
	in := emulator.Inbound{From: r.PathValue("wa_id"), Type: cm.Type, ContextID: cm.ContextID}
	switch cm.Type {
	case "text":
		in.Text = strings.TrimSpace(cm.Text)
		if in.Text == "" || utf8.RuneCountInString(in.Text) > maxTextRunes {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "text: 1 to 4096 characters"})
			return
		}
	case "button_reply", "list_reply":
		in.ID, in.Title = cm.ID, cm.Title
	case "button":
		in.Text, in.Payload = cm.Title, cm.Payload
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "type: text, button_reply, list_reply or button"})
		return
	}
	if c := s.hub.chat(r.Context(), in.From); c.Name != "" {
		in.Name = c.Name // the profile name Meta sends with the message
	}
	id, err := s.opts.Emulator.SendInbound(in)
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, emulator.ErrNoWebhookURL) {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": id})
}

// inlineTypes are shown in the browser; anything else is downloaded.
var inlineTypes = map[string]bool{
	"application/pdf": true, "image/jpeg": true, "image/png": true, "image/webp": true,
	"video/mp4": true, "video/3gpp": true, "audio/ogg": true, "audio/mpeg": true, "audio/aac": true,
	"audio/mp4": true, "audio/amr": true, "text/plain": true,
}

// serveMedia serves a document or image the emulator stores, as the customer
// would open it.
func (s *Server) serveMedia(w http.ResponseWriter, r *http.Request) {
	f, ok := s.opts.Emulator.Media(r.PathValue("id"))
	if !ok {
		http.Error(w, "no such media: deleted, or never uploaded", http.StatusNotFound)
		return
	}
	mt, _, err := mime.ParseMediaType(f.MimeType)
	if err != nil {
		mt = "application/octet-stream"
	}
	disposition := "attachment"
	if inlineTypes[mt] {
		disposition = "inline"
	}
	name := r.URL.Query().Get("name")
	if name == "" {
		name = "media-" + f.ID
		if exts, _ := mime.ExtensionsByType(mt); len(exts) > 0 {
			name += exts[0]
		}
	}
	h := w.Header()
	h.Set("Content-Type", mt)
	h.Set("Content-Length", strconv.Itoa(len(f.Data)))
	h.Set("Content-Disposition", mime.FormatMediaType(disposition, map[string]string{"filename": name}))
	_, _ = w.Write(f.Data)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
