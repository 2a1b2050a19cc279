package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
)

// Inbound describes a message a simulated WhatsApp user sends to the
// business; SendInbound turns it into Meta's webhook payload
// (D: webhooks/reference/messages/*).
type Inbound struct {
	// From is the user's phone number or wa_id (required).
	From string `json:"from"`
	// Name is the user's profile name; default "Test User".
	Name string `json:"name,omitempty"`
	// PhoneNumberID is the business number written to; default
	// Config.PhoneNumberID.
	PhoneNumberID string `json:"phone_number_id,omitempty"`
	// Type is text, image, document, audio, video, sticker, location,
	// contacts, reaction, button_reply, list_reply, button (template
	// quick reply) or unsupported.
	Type string `json:"type"`
	// ContextID is the wamid replied to. For button_reply, list_reply and
	// button it defaults to the newest outbound message holding that button
	// or row (or template).
	ContextID string `json:"context_id,omitempty"`

	Text string `json:"text,omitempty"`
	// ID and Title of the tapped reply button or list row; Title defaults
	// to the one in the outbound message. Description for list rows.
	ID          string `json:"id,omitempty"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	// Payload of a template quick-reply button; Text is its label.
	Payload string `json:"payload,omitempty"`

	// Media: MimeType, Data (base64 in JSON; default a few placeholder
	// bytes), Caption, Filename, Voice (audio), Animated (sticker).
	MimeType string `json:"mime_type,omitempty"`
	Data     []byte `json:"data,omitempty"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
	Voice    bool   `json:"voice,omitempty"`
	Animated bool   `json:"animated,omitempty"`

	Location *whatsapp.Location `json:"location,omitempty"`
	Contacts []whatsapp.Contact `json:"contacts,omitempty"`

	// Emoji of a reaction (empty removes it) to the message ReactTo
	// (default the newest outbound message).
	Emoji   string `json:"emoji,omitempty"`
	ReactTo string `json:"react_to,omitempty"`

	// UnsupportedType is the unsupported.type; default "poll_creation".
	UnsupportedType string `json:"unsupported_type,omitempty"`

	// Message, when set, is sent as is (From, ID and Timestamp filled in
	// when empty): any shape Meta documents.
	Message *whatsapp.InboundMessage `json:"message,omitempty"`
}

var defaultMIME = map[string]string{
	"image": "image/jpeg", "video": "video/mp4", "audio": "audio/ogg",
	"document": "application/pdf", "sticker": "image/webp",
}

// ErrNoWebhookURL is returned by SendInbound when no webhook URL is set.
var ErrNoWebhookURL = errors.New("emulator: no webhook URL configured")

// SendInbound records a message from a user, opens the user's 24 h window,
// and posts the signed webhook. It returns the message's wamid.
func (s *Server) SendInbound(in Inbound) (string, error) {
	waID := digits(in.From)
	if len(waID) < 7 {
		return "", fmt.Errorf("inbound: from %q is not a phone number", in.From)
	}
	if in.PhoneNumberID == "" {
		in.PhoneNumberID = s.cfg.PhoneNumberID
	}
	if in.Name == "" {
		in.Name = "Test User"
	}
	now := s.now()
	var m whatsapp.InboundMessage
	if in.Message != nil {
		m = *in.Message
	} else {
		var err error
		if m, err = s.buildInbound(waID, in); err != nil {
			return "", err
		}
	}
	if m.From == "" {
		m.From = waID
	}
	if m.ID == "" {
		m.ID = s.newWAMID(waID)
	}
	if m.Timestamp == "" {
		m.Timestamp = strconv.FormatInt(now.Unix(), 10)
	}

	s.stateMu.Lock()
	delete(s.closed, waID)
	s.lastInbound[waID] = now
	s.stateMu.Unlock()

	msgJSON := jsonRaw(m)
	s.addMessage(ConversationMessage{
		ID: m.ID, WaID: waID, PhoneNumberID: in.PhoneNumberID, Direction: "in", Type: m.Type,
		Time: now, Status: "received", Payload: msgJSON,
	})
	if s.cfg.WebhookURL == "" {
		return m.ID, ErrNoWebhookURL
	}
	body := jsonBody(s.envelope(in.PhoneNumberID, whatsapp.WebhookValue{
		Contacts: []whatsapp.WebhookContact{{Profile: whatsapp.WebhookProfile{Name: in.Name}, WaID: waID}},
		Messages: []whatsapp.InboundMessage{m},
	}))
	if !s.hooks.submit(&hookEvent{due: time.Now(), body: body, kind: "inbound", waID: waID, wamid: m.ID}) {
		return m.ID, errors.New("inbound: webhook queue closed or full")
	}
	return m.ID, nil
}

func (s *Server) buildInbound(waID string, in Inbound) (whatsapp.InboundMessage, error) {
	m := whatsapp.InboundMessage{Type: in.Type}
	replyCtx := func(id string) {
		if id != "" {
			m.Context = &whatsapp.InboundContext{From: s.cfg.DisplayPhoneNumber, ID: id}
		}
	}
	switch in.Type {
	case "text":
		if in.Text == "" {
			return m, errors.New("inbound: text required")
		}
		m.Text = &whatsapp.Text{Body: in.Text}
		replyCtx(in.ContextID)
	case "image", "video", "audio", "document", "sticker":
		mt := in.MimeType
		if mt == "" {
			mt = defaultMIME[in.Type]
		}
		data := in.Data
		if len(data) == 0 {
			data = []byte("emulated " + in.Type + " from " + waID)
		}
		id, err := s.PutMedia(in.PhoneNumberID, mt, data)
		if err != nil {
			return m, fmt.Errorf("inbound: %w", err)
		}
		obj := s.media.get(id)
		media := &whatsapp.InboundMedia{ID: id, MimeType: mt, SHA256: obj.SHA256}
		switch in.Type {
		case "image":
			media.Caption, m.Image = in.Caption, media
		case "video":
			media.Caption, m.Video = in.Caption, media
		case "document":
			media.Caption, media.Filename, m.Document = in.Caption, in.Filename, media
		case "audio":
			media.Voice, m.Audio = &in.Voice, media
		case "sticker":
			media.Animated, m.Sticker = &in.Animated, media
		}
		replyCtx(in.ContextID)
	case "location":
		if in.Location == nil {
			return m, errors.New("inbound: location required")
		}
		m.Location = in.Location
	case "contacts":
		if len(in.Contacts) == 0 {
			return m, errors.New("inbound: contacts required")
		}
		m.Contacts = in.Contacts
	case "reaction":
		target := in.ReactTo
		if target == "" {
			last, ok := s.store.findOutbound(waID, func(*ConversationMessage) bool { return true })
			if !ok {
				return m, errors.New("inbound: react_to required (no outbound message)")
			}
			target = last.ID
		}
		m.Reaction = &whatsapp.InboundReaction{MessageID: target, Emoji: in.Emoji}
	case "button_reply", "list_reply":
		if in.ID == "" {
			return m, errors.New("inbound: id of the button or row required")
		}
		ctxID, title, desc := s.findChoice(waID, in.Type, in.ID)
		if in.ContextID != "" {
			ctxID = in.ContextID
		}
		if in.Title != "" {
			title, desc = in.Title, in.Description
		}
		if title == "" {
			return m, fmt.Errorf("inbound: no outbound message to %s offers %q; give its title", waID, in.ID)
		}
		m.Type = whatsapp.InboundTypeInteractive
		if in.Type == "button_reply" {
			m.Interactive = &whatsapp.InboundInteractive{Type: whatsapp.InteractiveButtonReply,
				ButtonReply: &whatsapp.ButtonReply{ID: in.ID, Title: title}}
		} else {
			m.Interactive = &whatsapp.InboundInteractive{Type: whatsapp.InteractiveListReply,
				ListReply: &whatsapp.ListReply{ID: in.ID, Title: title, Description: desc}}
		}
		replyCtx(ctxID)
	case "button":
		if in.Payload == "" && in.Text == "" {
			return m, errors.New("inbound: payload or text required")
		}
		text, payload := in.Text, in.Payload
		if text == "" {
			text = payload
		}
		if payload == "" {
			payload = text
		}
		m.Button = &whatsapp.InboundButtonReply{Payload: payload, Text: text}
		ctxID := in.ContextID
		if ctxID == "" {
			if last, ok := s.store.findOutbound(waID, func(c *ConversationMessage) bool { return c.Type == "template" }); ok {
				ctxID = last.ID
			}
		}
		replyCtx(ctxID)
	case "unsupported":
		t := in.UnsupportedType
		if t == "" {
			t = "poll_creation"
		}
		m.Unsupported = &whatsapp.Unsupported{Type: t}
		// D: webhooks/reference/messages/unsupported.
		m.Errors = []whatsapp.WebhookError{{Code: 131051, Title: "Message type unknown", Message: "Message type unknown",
			ErrorData: &whatsapp.WebhookErrorData{Details: "Message type is currently not supported."}}}
	default:
		return m, fmt.Errorf("inbound: unsupported type %q", in.Type)
	}
	return m, nil
}

// findChoice finds the newest outbound interactive message to waID with a
// button (button_reply) or row (list_reply) of that id.
func (s *Server) findChoice(waID, kind, id string) (wamid, title, desc string) {
	s.store.findOutbound(waID, func(c *ConversationMessage) bool {
		if c.Type != "interactive" {
			return false
		}
		var req whatsapp.SendRequest
		if json.Unmarshal(c.Payload, &req) != nil || req.Interactive == nil {
			return false
		}
		a := req.Interactive.Action
		if kind == "button_reply" {
			for _, b := range a.Buttons {
				if b.Reply.ID == id {
					wamid, title = c.ID, b.Reply.Title
					return true
				}
			}
			return false
		}
		for _, sec := range a.Sections {
			for _, r := range sec.Rows {
				if r.ID == id {
					wamid, title, desc = c.ID, r.Title, r.Description
					return true
				}
			}
		}
		return false
	})
	return wamid, title, desc
}

// knobsJSON is the HTTP form of Knobs: durations as strings ("200ms").
type knobsJSON struct {
	Latency            *string  `json:"latency,omitempty"`
	LatencyJitter      *string  `json:"latency_jitter,omitempty"`
	ThroughputCap      *float64 `json:"throughput_cap,omitempty"`
	PairRateEvery      *string  `json:"pair_rate_every,omitempty"`
	PairRateBurst      *int     `json:"pair_rate_burst,omitempty"`
	SyncFailures       *bool    `json:"sync_failures,omitempty"`
	RequireWindow      *bool    `json:"require_window,omitempty"`
	StatusDelay        *string  `json:"status_delay,omitempty"`
	StopAt             *string  `json:"stop_at,omitempty"`
	DuplicateRate      *float64 `json:"duplicate_rate,omitempty"`
	ReorderRate        *float64 `json:"reorder_rate,omitempty"`
	WebhookMaxAttempts *int     `json:"webhook_max_attempts,omitempty"`
	WebhookRetryDelay  *string  `json:"webhook_retry_delay,omitempty"`
}

func toKnobsJSON(k Knobs) knobsJSON {
	d := func(v time.Duration) *string { s := v.String(); return &s }
	return knobsJSON{
		Latency: d(k.Latency), LatencyJitter: d(k.LatencyJitter), ThroughputCap: &k.ThroughputCap,
		PairRateEvery: d(k.PairRateEvery), PairRateBurst: &k.PairRateBurst, SyncFailures: &k.SyncFailures,
		RequireWindow: &k.RequireWindow, StatusDelay: d(k.StatusDelay), StopAt: &k.StopAt,
		DuplicateRate: &k.DuplicateRate, ReorderRate: &k.ReorderRate,
		WebhookMaxAttempts: &k.WebhookMaxAttempts, WebhookRetryDelay: d(k.WebhookRetryDelay),
	}
}

// apply patches k with the fields set in j.
func (j knobsJSON) apply(k *Knobs) error {
	var err error
	dur := func(name string, src *string, dst *time.Duration) {
		if src == nil || err != nil {
			return
		}
		v, perr := time.ParseDuration(*src)
		if perr != nil || v < 0 {
			err = fmt.Errorf("%s: %q is not a duration", name, *src)
			return
		}
		*dst = v
	}
	dur("latency", j.Latency, &k.Latency)
	dur("latency_jitter", j.LatencyJitter, &k.LatencyJitter)
	dur("pair_rate_every", j.PairRateEvery, &k.PairRateEvery)
	dur("status_delay", j.StatusDelay, &k.StatusDelay)
	dur("webhook_retry_delay", j.WebhookRetryDelay, &k.WebhookRetryDelay)
	if err != nil {
		return err
	}
	set := func(src *float64, dst *float64) {
		if src != nil {
			*dst = *src
		}
	}
	set(j.ThroughputCap, &k.ThroughputCap)
	set(j.DuplicateRate, &k.DuplicateRate)
	set(j.ReorderRate, &k.ReorderRate)
	if j.PairRateBurst != nil {
		k.PairRateBurst = *j.PairRateBurst
	}
	if j.SyncFailures != nil {
		k.SyncFailures = *j.SyncFailures
	}
	if j.RequireWindow != nil {
		k.RequireWindow = *j.RequireWindow
	}
	if j.StopAt != nil {
		k.StopAt = *j.StopAt
	}
	if j.WebhookMaxAttempts != nil {
		k.WebhookMaxAttempts = *j.WebhookMaxAttempts
	}
	return nil
}

// controlMux serves /_emulator/: inspection and knobs over HTTP, for
// scripts and the sandbox.
func (s *Server) controlMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_emulator/requests", func(w http.ResponseWriter, r *http.Request) {
		reqs := s.Requests()
		if p := r.URL.Query().Get("path"); p != "" {
			kept := reqs[:0]
			for _, rr := range reqs {
				if strings.Contains(rr.Path, p) {
					kept = append(kept, rr)
				}
			}
			reqs = kept
		}
		writeJSON(w, http.StatusOK, jsonBody(reqs))
	})
	mux.HandleFunc("GET /_emulator/webhooks", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, jsonBody(s.Webhooks()))
	})
	mux.HandleFunc("GET /_emulator/messages", func(w http.ResponseWriter, r *http.Request) {
		if waID := r.URL.Query().Get("wa_id"); waID != "" {
			writeJSON(w, http.StatusOK, jsonBody(s.Messages(waID)))
			return
		}
		writeJSON(w, http.StatusOK, jsonBody(s.Conversations()))
	})
	mux.HandleFunc("GET /_emulator/conversations", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, jsonBody(s.ConversationIDs()))
	})
	mux.HandleFunc("GET /_emulator/knobs", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, jsonBody(toKnobsJSON(s.Knobs())))
	})
	mux.HandleFunc("POST /_emulator/knobs", func(w http.ResponseWriter, r *http.Request) {
		var patch knobsJSON
		if !decode(w, r, &patch) {
			return
		}
		k := s.Knobs()
		if err := patch.apply(&k); err != nil {
			controlError(w, err)
			return
		}
		s.SetKnobs(k)
		writeJSON(w, http.StatusOK, jsonBody(toKnobsJSON(s.Knobs())))
	})
	mux.HandleFunc("POST /_emulator/windows/{wa_id}/{action}", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("action") {
		case "close":
			s.CloseWindow(r.PathValue("wa_id"))
		case "open":
			s.OpenWindow(r.PathValue("wa_id"))
		default:
			http.NotFound(w, r)
			return
		}
		writeJSON(w, http.StatusOK, []byte(`{"success":true}`))
	})
	mux.HandleFunc("POST /_emulator/recipients/{wa_id}/fail", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Code int `json:"code"`
		}
		if !decode(w, r, &body) {
			return
		}
		s.FailRecipient(r.PathValue("wa_id"), body.Code)
		writeJSON(w, http.StatusOK, []byte(`{"success":true}`))
	})
	mux.HandleFunc("POST /_emulator/fail5xx", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Count int `json:"count"`
			Code  int `json:"code"`
		}
		if !decode(w, r, &body) {
			return
		}
		s.Fail5xx(body.Count, body.Code)
		writeJSON(w, http.StatusOK, []byte(`{"success":true}`))
	})
	mux.HandleFunc("POST /_emulator/token/expire", func(w http.ResponseWriter, r *http.Request) {
		s.ExpireToken()
		writeJSON(w, http.StatusOK, []byte(`{"success":true}`))
	})
	mux.HandleFunc("POST /_emulator/token", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			AccessToken string `json:"access_token"`
		}
		if !decode(w, r, &body) {
			return
		}
		if body.AccessToken == "" {
			controlError(w, errors.New("access_token required"))
			return
		}
		s.SetAccessToken(body.AccessToken)
		writeJSON(w, http.StatusOK, []byte(`{"success":true}`))
	})
	mux.HandleFunc("GET /_emulator/templates", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, jsonBody(s.Templates()))
	})
	mux.HandleFunc("POST /_emulator/templates", func(w http.ResponseWriter, r *http.Request) {
		var t whatsapp.TemplateInfo
		if !decode(w, r, &t) {
			return
		}
		if t.Name == "" || t.Language == "" {
			controlError(w, errors.New("name and language required"))
			return
		}
		if t.Status == "" {
			t.Status = "APPROVED"
		}
		if t.ID == "" {
			t.ID = numericID()
		}
		s.AddTemplate(t)
		writeJSON(w, http.StatusOK, jsonBody(t))
	})
	mux.HandleFunc("POST /_emulator/inbound", func(w http.ResponseWriter, r *http.Request) {
		var in Inbound
		if !decode(w, r, &in) {
			return
		}
		id, err := s.SendInbound(in)
		if err != nil && !errors.Is(err, ErrNoWebhookURL) {
			controlError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, jsonBody(map[string]string{"id": id}))
	})
	mux.HandleFunc("POST /_emulator/reset", func(w http.ResponseWriter, r *http.Request) {
		s.Reset()
		writeJSON(w, http.StatusOK, []byte(`{"success":true}`))
	})
	return mux
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		controlError(w, fmt.Errorf("decode body: %w", err))
		return false
	}
	return true
}

func controlError(w http.ResponseWriter, err error) {
	writeJSON(w, http.StatusBadRequest, jsonBody(map[string]string{"error": err.Error()}))
}
