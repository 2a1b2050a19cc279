package emulator

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
)

// maxJSONBody bounds a JSON request body.
const maxJSONBody = 1 << 20

// ServeHTTP routes Graph API requests, media downloads and /_emulator/
// control requests.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case r.Method == "PRI":
		// A client's HTTP/2 preface reaching an HTTP/1.1-only mount
		// (httptest.NewServer): its probe for h2c, not a Graph request.
		w.WriteHeader(http.StatusHTTPVersionNotSupported)
		return
	case path == "/" && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "WhatsApp Cloud API emulator\n")
		return
	case strings.HasPrefix(path, "/_emulator/"):
		s.mux.ServeHTTP(w, r)
		return
	case path == downloadPath:
		s.serveDownload(w, r)
		return
	}

	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) < 2 || len(parts) > 3 || !versionRE.MatchString(parts[0]) {
		s.graphError(w, r, nil, http.StatusBadRequest, graphErr{
			Code: 2500, Message: "Unknown path components: " + path,
		})
		return
	}
	s.serveGraph(w, r, parts[1:])
}

func (s *Server) serveGraph(w http.ResponseWriter, r *http.Request, parts []string) {
	k := s.knobs.Load()
	var body []byte
	if r.Body != nil && r.Method == http.MethodPost && !strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
		if err != nil || len(body) > maxJSONBody {
			s.graphError(w, r, body, http.StatusBadRequest, errInvalidParameter("request body too large or unreadable"))
			return
		}
	}
	if s.cfg.OnRequest != nil {
		s.cfg.OnRequest(r)
	}
	if s.cfg.OnMessageRequest != nil && len(parts) == 2 && parts[1] == "messages" && r.Method == http.MethodPost {
		s.cfg.OnMessageRequest(body)
	}
	// A send is accepted first and answered after the latency, as Meta does: a
	// client that goes away meanwhile (a sender killed mid-request) does not take
	// the message back, and its status webhooks follow.
	send := len(parts) == 2 && parts[1] == "messages" && r.Method == http.MethodPost
	if !send {
		if err := s.delay(r.Context(), k); err != nil {
			return
		}
	}
	if ge, status, ok := s.checkAuth(r); !ok {
		s.graphError(w, r, body, status, ge)
		return
	}
	if n := s.fail5xx.Load(); n > 0 && s.fail5xx.CompareAndSwap(n, n-1) {
		code := int(s.fail5xxCode.Load())
		s.graphError(w, r, body, http.StatusInternalServerError, metaError(code, ""))
		return
	}

	id := parts[0]
	switch {
	case len(parts) == 2 && parts[1] == "messages" && r.Method == http.MethodPost:
		if !isNumeric(id) {
			s.graphError(w, r, body, http.StatusBadRequest, errUnknownObject(id, "post"))
			return
		}
		s.serveMessages(w, r, id, body, k)
	case len(parts) == 2 && parts[1] == "media" && r.Method == http.MethodPost:
		if !isNumeric(id) {
			s.graphError(w, r, body, http.StatusBadRequest, errUnknownObject(id, "post"))
			return
		}
		s.serveUpload(w, r, id)
	case len(parts) == 2 && parts[1] == "message_templates" && r.Method == http.MethodGet:
		s.serveTemplates(w, r, id)
	case len(parts) == 1 && (r.Method == http.MethodGet || r.Method == http.MethodDelete):
		s.serveMediaObject(w, r, id)
	default:
		s.graphError(w, r, body, http.StatusBadRequest, errUnknownObject(id, strings.ToLower(r.Method)))
	}
}

// delay waits the configured latency, or until the request is cancelled.
func (s *Server) delay(ctx context.Context, k *Knobs) error {
	d := k.Latency
	if k.LatencyJitter > 0 {
		d += rand.N(k.LatencyJitter)
	}
	if d <= 0 {
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// checkAuth checks the bearer token (or access_token query parameter, which
// Graph also accepts).
func (s *Server) checkAuth(r *http.Request) (graphErr, int, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		tok = r.URL.Query().Get("access_token")
	}
	if tok == "" {
		// Graph answers a missing token with code 2500 ("An active access
		// token must be used...") in some places and 190 in others; the
		// Cloud API answers 190.
		return graphErr{Code: 190, Type: "OAuthException", Message: "An active access token must be used to query information about the current user."}, http.StatusUnauthorized, false
	}
	if tok != *s.token.Load() {
		return graphErr{Code: 190, Type: "OAuthException", Message: "Invalid OAuth access token - Cannot parse access token"}, http.StatusUnauthorized, false
	}
	if s.tokenExpired.Load() {
		// Graph error handling: code 190 with subcode 463 = expired.
		return graphErr{Code: 190, Subcode: 463, Type: "OAuthException", Message: "Error validating access token: Session has expired on " +
			s.now().UTC().Format("Monday, 02-Jan-06 15:04:05 MST") + "."}, http.StatusUnauthorized, false
	}
	return graphErr{}, 0, true
}

// serveMessages handles POST /{phone-number-id}/messages: sends and
// mark-as-read (D: messages/send-messages, messages/mark-message-as-read).
func (s *Server) serveMessages(w http.ResponseWriter, r *http.Request, phoneID string, body []byte, k *Knobs) {
	var req whatsapp.SendRequest
	if err := json.Unmarshal(body, &req); err != nil {
		s.graphError(w, r, body, http.StatusBadRequest, errInvalidParameter("Request body is not valid JSON: "+err.Error()))
		return
	}
	if req.MessagingProduct != "whatsapp" {
		s.graphError(w, r, body, http.StatusBadRequest, graphErr{Code: 100, Message: "(#100) The parameter messaging_product is required.",
			Details: "The parameter messaging_product is required."})
		return
	}
	if req.Status != "" {
		s.serveMarkRead(w, r, phoneID, body, &req)
		return
	}
	if req.RecipientType != "" && req.RecipientType != "individual" {
		s.graphError(w, r, body, http.StatusBadRequest, errInvalidParameter("recipient_type: only \"individual\" is emulated"))
		return
	}
	msg := req.Message
	if req.Context != nil {
		msg.ReplyTo = req.Context.MessageID
		if msg.ReplyTo == "" {
			s.graphError(w, r, body, http.StatusBadRequest, errInvalidParameter("context.message_id: required"))
			return
		}
	}
	if err := msg.Validate(); err != nil {
		s.graphError(w, r, body, http.StatusBadRequest, errInvalidParameter(err.Error()))
		return
	}
	if !s.allowThroughput(phoneID, k) {
		s.graphError(w, r, body, http.StatusBadRequest, metaError(130429, ""))
		return
	}
	waID := digits(msg.To)
	if !s.allowPair(phoneID, waID, k) {
		s.graphError(w, r, body, http.StatusBadRequest, metaError(131056, ""))
		return
	}
	var tmpl *whatsapp.TemplateInfo
	if msg.Type == whatsapp.TypeTemplate {
		t, ge := s.checkTemplate(msg.Template)
		if ge != nil {
			s.graphError(w, r, body, ge.status(), *ge)
			return
		}
		tmpl = &t
	}

	// Failures of the recipient: sync (HTTP 400) or async (failed status).
	failCode := s.recipientFailure(waID)
	if failCode == 0 && msg.Type != whatsapp.TypeTemplate && !s.windowOpen(waID, k) {
		failCode = 131047
	}
	if failCode != 0 && k.SyncFailures {
		s.graphError(w, r, body, http.StatusBadRequest, metaError(failCode, ""))
		return
	}

	wamid := s.newWAMID(waID)
	resp := appendSendResponse(make([]byte, 0, 256), msg.To, waID, wamid)
	s.store.record(r, body, http.StatusOK, resp, s.now())

	category := "service"
	if tmpl != nil {
		category = strings.ToLower(tmpl.Category)
	}
	s.addMessage(ConversationMessage{
		ID: wamid, WaID: waID, PhoneNumberID: phoneID, Direction: "out", Type: string(msg.Type),
		Time: s.now(), Status: "accepted", BizOpaqueCallbackData: msg.BizOpaqueCallbackData,
		Payload: json.RawMessage(body),
	})
	s.hooks.statuses(statusPlan{
		phoneID: phoneID, waID: waID, wamid: wamid, biz: msg.BizOpaqueCallbackData,
		category: category, template: tmpl != nil, failCode: failCode,
	}, k)
	if err := s.delay(r.Context(), k); err != nil {
		return // accepted; the answer is lost with the client
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) serveMarkRead(w http.ResponseWriter, r *http.Request, phoneID string, body []byte, req *whatsapp.SendRequest) {
	if req.Status != "read" {
		s.graphError(w, r, body, http.StatusBadRequest, errInvalidParameter(fmt.Sprintf("status: %q, want \"read\"", req.Status)))
		return
	}
	if req.MessageID == "" {
		s.graphError(w, r, body, http.StatusBadRequest, errInvalidParameter("message_id: required"))
		return
	}
	if !s.store.markInboundRead(req.MessageID) {
		s.graphError(w, r, body, http.StatusBadRequest, errInvalidParameter("message_id: unknown message "+req.MessageID))
		return
	}
	resp := []byte(`{"success":true}`)
	// Recorded before the answer: a client that got it finds it in Requests.
	s.store.record(r, body, http.StatusOK, resp, s.now())
	writeJSON(w, http.StatusOK, resp)
}

// newWAMID builds an ID shaped like Meta's: "wamid." + base64 of a small
// protobuf-like record holding the user's wa_id and a random message key.
func (s *Server) newWAMID(waID string) string {
	var key [9]byte
	_, _ = crand.Read(key[:])
	b := make([]byte, 0, 48)
	b = append(b, 0x1c, 0x18, byte(len(waID)))
	b = append(b, waID...)
	b = append(b, 0x15, 0x02, 0x00, 0x11, 0x18, 0x12)
	b = fmt.Appendf(b, "%018X", key)
	b = append(b, 0x00)
	return "wamid." + base64.StdEncoding.EncodeToString(b)
}

// appendSendResponse writes Meta's success body
// (D: messages/send-messages, "Responses").
func appendSendResponse(b []byte, input, waID, wamid string) []byte {
	b = append(b, `{"messaging_product":"whatsapp","contacts":[{"input":`...)
	b = strconv.AppendQuote(b, input)
	b = append(b, `,"wa_id":`...)
	b = strconv.AppendQuote(b, waID)
	b = append(b, `}],"messages":[{"id":`...)
	b = strconv.AppendQuote(b, wamid)
	return append(b, `}]}`...)
}

var templateParamRE = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_]+)\s*\}\}`)

// checkTemplate validates a template send against the catalogue:
// 132001 unknown name/language or not approved, 132015 paused, 132016
// disabled, 132000 parameter count mismatch (D: support/error-codes).
func (s *Server) checkTemplate(t *whatsapp.Template) (whatsapp.TemplateInfo, *graphErr) {
	s.stateMu.RLock()
	var found *whatsapp.TemplateInfo
	for i := range s.templates {
		if s.templates[i].Name == t.Name && s.templates[i].Language == t.Language.Code {
			found = &s.templates[i]
			break
		}
	}
	var info whatsapp.TemplateInfo
	if found != nil {
		info = *found
	}
	s.stateMu.RUnlock()

	if found == nil || (info.Status != "APPROVED" && info.Status != "PAUSED" && info.Status != "DISABLED") {
		e := metaError(132001, fmt.Sprintf("template name (%s) does not exist in %s", t.Name, t.Language.Code))
		return info, &e
	}
	switch info.Status {
	case "PAUSED":
		e := metaError(132015, "")
		return info, &e
	case "DISABLED":
		e := metaError(132016, "")
		return info, &e
	}
	sent := map[string]int{}
	for _, c := range t.Components {
		if c.Type != whatsapp.ComponentButton {
			sent[c.Type] += len(c.Parameters)
		}
	}
	for _, c := range info.Components {
		var kind string
		switch {
		case c.Type == "BODY":
			kind = whatsapp.ComponentBody
		case c.Type == "HEADER" && c.Format == "TEXT":
			kind = whatsapp.ComponentHeader
		case c.Type == "HEADER" && c.Format != "":
			if sent[whatsapp.ComponentHeader] != 1 {
				e := metaError(132012, fmt.Sprintf("header: format mismatch, expected %s, received %d parameters", c.Format, sent[whatsapp.ComponentHeader]))
				return info, &e
			}
			continue
		default:
			continue
		}
		want := distinctParams(c.Text)
		if got := sent[kind]; got != want {
			e := metaError(132000, fmt.Sprintf("%s: number of localizable_params (%d) does not match the expected number of params (%d)", kind, got, want))
			return info, &e
		}
	}
	return info, nil
}

func distinctParams(text string) int {
	seen := map[string]bool{}
	for _, m := range templateParamRE.FindAllStringSubmatch(text, -1) {
		seen[m[1]] = true
	}
	return len(seen)
}

// serveTemplates handles GET /{waba-id}/message_templates with Graph cursor
// paging (D: templates/template-management).
func (s *Server) serveTemplates(w http.ResponseWriter, r *http.Request, wabaID string) {
	if wabaID != s.cfg.WABAID {
		s.graphError(w, r, nil, http.StatusBadRequest, errUnknownObject(wabaID, "get"))
		return
	}
	q := r.URL.Query()
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit <= 0 {
		limit = 25
	}
	limit = min(limit, 1000)
	all := s.Templates()
	filtered := all[:0:0]
	for _, t := range all {
		if st := q.Get("status"); st != "" && !strings.EqualFold(st, t.Status) {
			continue
		}
		if n := q.Get("name"); n != "" && !strings.Contains(t.Name, n) {
			continue
		}
		filtered = append(filtered, t)
	}
	start := 0
	if a := q.Get("after"); a != "" {
		i, err := decodeCursor(a)
		if err != nil || i > len(filtered) {
			s.graphError(w, r, nil, http.StatusBadRequest, errInvalidParameter("after: invalid cursor"))
			return
		}
		start = i
	}
	end := min(start+limit, len(filtered))
	page := whatsapp.TemplatePage{Data: filtered[start:end]}
	if end > start {
		page.Paging = &whatsapp.Paging{}
		page.Paging.Cursors.Before = encodeCursor(start)
		page.Paging.Cursors.After = encodeCursor(end)
		if end < len(filtered) {
			nq := r.URL.Query()
			nq.Del("access_token")
			nq.Set("after", encodeCursor(end))
			page.Paging.Next = s.URL() + r.URL.Path + "?" + nq.Encode()
		}
	}
	resp, _ := json.Marshal(page)
	// Recorded before the answer: a client that got it finds it in Requests.
	s.store.record(r, nil, http.StatusOK, resp, s.now())
	writeJSON(w, http.StatusOK, resp)
}

func encodeCursor(i int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("idx:" + strconv.Itoa(i)))
}

func decodeCursor(c string) (int, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, err
	}
	n, ok := strings.CutPrefix(string(b), "idx:")
	if !ok {
		return 0, fmt.Errorf("bad cursor")
	}
	return strconv.Atoi(n)
}

// graphErr is a Graph API error body
// (D: support/error-codes; Graph API "Handling errors").
type graphErr struct {
	Code    int
	Subcode int
	Type    string
	Message string
	Details string
	HTTP    int
}

func (e graphErr) status() int {
	if e.HTTP != 0 {
		return e.HTTP
	}
	return http.StatusBadRequest
}

// metaErrors are the title, HTTP status and default details of the codes
// the emulator answers (D: support/error-codes).
var metaErrors = map[int]struct {
	title, details string
	http           int
}{
	2:      {"Service temporarily unavailable", "Service temporarily unavailable.", 503},
	100:    {"Invalid parameter", "Invalid parameter", 400},
	130429: {"Rate limit hit", "Cloud API message throughput has been reached.", 400},
	131000: {"Something went wrong", "Something went wrong", 500},
	131016: {"Service unavailable", "A service is temporarily unavailable.", 500},
	131026: {"Message undeliverable", "Message Undeliverable.", 400},
	131030: {"Recipient phone number not in allowed list", "Recipient phone number not in allowed list: Add recipient phone number to recipient list and try again.", 400},
	131031: {"Account has been locked", "Your WhatsApp Business Account has been locked.", 403},
	131047: {"Re-engagement message", "Message failed to send because more than 24 hours have passed since the customer last replied to this number.", 400},
	131049: {"This message was not delivered to maintain healthy ecosystem engagement.", "In order to maintain a healthy ecosystem engagement, the message failed to be delivered.", 400},
	131050: {"Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business.", "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business.", 400},
	131053: {"Media upload error", "Unable to upload the media used in the message.", 400},
	131056: {"(Business Account, Consumer Account) pair rate limit hit", "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.", 400},
	131057: {"Account in maintenance mode", "Business Account is in maintenance mode.", 500},
	132000: {"Number of parameters does not match the expected number of params", "", 400},
	132001: {"Template name does not exist in the translation", "", 404},
	132012: {"Parameter format does not match format in the created template", "", 400},
	132015: {"Template is Paused", "Template is paused due to low quality so it cannot be sent in a template message.", 400},
	132016: {"Template is Disabled", "Template has been paused too many times due to low quality and is now permanently disabled.", 400},
	133004: {"Server temporarily unavailable", "Server temporarily unavailable.", 503},
	368:    {"Temporarily blocked for policies violations", "The WhatsApp Business Account associated with the app has been restricted or disabled for violating a platform policy.", 403},
}

// metaError returns the error body of a Cloud API code; details overrides
// the default details.
func metaError(code int, details string) graphErr {
	m, ok := metaErrors[code]
	if !ok {
		m.title, m.http = whatsapp.CodeDescription(code), 400
		if m.title == "" {
			m.title = "Unknown error"
		}
	}
	if details == "" {
		details = m.details
		if details == "" {
			details = m.title
		}
	}
	return graphErr{Code: code, Subcode: metaSubcodes[code], Message: fmt.Sprintf("(#%d) %s", code, m.title), Details: details, HTTP: m.http}
}

// metaSubcodes are the error_subcode values of Meta's own examples; Meta
// calls the field deprecated but still sends it (D: support/error-codes).
var metaSubcodes = map[int]int{100: 2494010, 130429: 2494055, 132001: 2494073}

func errInvalidParameter(details string) graphErr {
	return graphErr{Code: 100, Subcode: 2494010, Message: "(#100) Invalid parameter", Details: details, HTTP: 400}
}

func errUnknownObject(id, method string) graphErr {
	return graphErr{Code: 100, Subcode: 33, HTTP: 400, Message: fmt.Sprintf("Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api", method, id)}
}

// webhookError is the error object of statuses[].errors[].
func webhookError(code int) whatsapp.WebhookError {
	ge := metaError(code, "")
	title := strings.TrimPrefix(ge.Message, fmt.Sprintf("(#%d) ", code))
	return whatsapp.WebhookError{
		Code: code, Title: title, Message: title,
		ErrorData: &whatsapp.WebhookErrorData{Details: ge.Details},
		Href:      "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
	}
}

type graphErrorJSON struct {
	Error graphErrorInner `json:"error"`
}

type graphErrorInner struct {
	Message   string         `json:"message"`
	Type      string         `json:"type"`
	Code      int            `json:"code"`
	ErrorData *errorDataJSON `json:"error_data,omitempty"`
	Subcode   int            `json:"error_subcode,omitempty"`
	FBTraceID string         `json:"fbtrace_id"`
}

type errorDataJSON struct {
	MessagingProduct string `json:"messaging_product"`
	Details          string `json:"details"`
}

func (s *Server) graphError(w http.ResponseWriter, r *http.Request, reqBody []byte, status int, e graphErr) {
	if e.Type == "" {
		e.Type = "OAuthException"
	}
	inner := graphErrorInner{Message: e.Message, Type: e.Type, Code: e.Code, Subcode: e.Subcode, FBTraceID: fbTraceID()}
	if e.Details != "" {
		inner.ErrorData = &errorDataJSON{MessagingProduct: "whatsapp", Details: e.Details}
	}
	resp, _ := json.Marshal(graphErrorJSON{Error: inner})
	if e.Code == 190 {
		w.Header().Set("WWW-Authenticate", `OAuth "Facebook Platform" "invalid_token" "`+e.Message+`"`)
	}
	// Recorded before the answer: a client that got it finds it in Requests.
	s.store.record(r, reqBody, status, resp, s.now())
	writeJSON(w, status, resp)
}

const traceAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func fbTraceID() string {
	var b [23]byte
	for i := range b {
		b[i] = traceAlphabet[rand.IntN(len(traceAlphabet))]
	}
	return string(b[:])
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func jsonBody(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimRight(buf.Bytes(), "\n")
}
