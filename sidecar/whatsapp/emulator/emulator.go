// Package emulator is an in-process WhatsApp Business Cloud API: the same
// Graph routes, checks and answers as Meta's documented API, signed status
// and inbound webhooks to a configured URL, behaviour knobs for tests and
// benchmarks, and a record of every request. Tests, benchmarks and the
// sandbox use it instead of graph.facebook.com.
//
// Rules follow Meta's documentation; pages are under
// https://developers.facebook.com/documentation/business-messaging/whatsapp/
// ("D:" in comments). What is not emulated is listed in testdata/meta/README.md.
package emulator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
)

// Defaults of Config, taken from Meta's examples.
const (
	DefaultAPIVersion         = "v21.0"
	DefaultPhoneNumberID      = "106540352242922"
	DefaultDisplayPhoneNumber = "15550783881"
	DefaultWABAID             = "102290129340398"
)

// Config configures a Server. Zero values mean the defaults.
type Config struct {
	// AccessToken is the bearer token the API accepts (required).
	AccessToken string
	// AppSecret signs webhooks (X-Hub-Signature-256). Without it webhooks
	// are sent unsigned.
	AppSecret string
	// WebhookURL receives status and inbound webhooks; empty disables them.
	WebhookURL string
	// APIVersion is the version the URLs it hands out use; requests are
	// accepted under any "vNN.N" prefix, as Graph does for its supported
	// versions. Default DefaultAPIVersion.
	APIVersion string
	// PhoneNumberID, DisplayPhoneNumber and WABAID identify the business
	// number in webhooks; API requests are accepted for any numeric phone
	// number ID.
	PhoneNumberID      string
	DisplayPhoneNumber string
	WABAID             string
	// Templates is the template catalogue; nil means Meta's sample
	// "hello_world" (en_US) only.
	Templates []whatsapp.TemplateInfo
	// Knobs are the initial behaviour knobs.
	Knobs Knobs
	// MaxRecorded bounds the recorded requests and webhook deliveries kept
	// (oldest dropped); default 10,000.
	MaxRecorded int
	// MaxMessagesPerRecipient bounds each conversation; default 1,000.
	MaxMessagesPerRecipient int
	// MaxMediaBytes bounds stored media; default 1 GiB.
	MaxMediaBytes int64
	// WebhookWorkers is the number of concurrent webhook POSTs; default 8.
	WebhookWorkers int
	// HTTPClient posts webhooks; default a client with a 10 s timeout.
	HTTPClient *http.Client
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Now is the clock, for the 24 h window; default time.Now.
	Now func() time.Time
	// OnRequest, if set, is called when a Graph API request has been read,
	// before the latency: a readiness signal for tests.
	OnRequest func(r *http.Request)
	// OnMessageRequest, if set, is called with the body of each POST
	// /{phone-number-id}/messages when it has been read, before the latency:
	// a timing hook for load tests. It must not keep body.
	OnMessageRequest func(body []byte)
	// OnWebhook, if set, is called after each webhook POST with its record
	// (when it was due, its answer): a timing hook for load tests.
	OnWebhook func(d WebhookDelivery)
}

// Knobs change the emulator's behaviour at run time.
type Knobs struct {
	// Latency is added to every API answer; LatencyJitter adds a uniform
	// random [0, LatencyJitter) on top.
	Latency       time.Duration `json:"latency"`
	LatencyJitter time.Duration `json:"latency_jitter"`
	// ThroughputCap answers 130429 beyond this many messages per second per
	// phone number ID (Meta: 80 by default, up to 1,000; D: throughput).
	// 0 disables.
	ThroughputCap float64 `json:"throughput_cap"`
	// PairRateEvery and PairRateBurst emulate the pair rate limit (131056):
	// one message per PairRateEvery to the same recipient with bursts of
	// PairRateBurst (Meta: 6 s, 45; D: about-the-platform). 0 disables.
	PairRateEvery time.Duration `json:"pair_rate_every"`
	PairRateBurst int           `json:"pair_rate_burst"`
	// SyncFailures answers recipient failures (131026, 131030, 131047...)
	// with HTTP 400; otherwise they are accepted (200 + wamid) and then
	// reported by a failed status webhook. Meta does both.
	SyncFailures bool `json:"sync_failures"`
	// RequireWindow enforces the 24 h customer service window: a
	// non-template message to a user who has not written in the last 24 h
	// fails with 131047. Without it windows are open unless closed with
	// CloseWindow.
	RequireWindow bool `json:"require_window"`
	// StatusDelay separates acceptance, sent, delivered and read webhooks.
	StatusDelay time.Duration `json:"status_delay"`
	// StopAt is the last status reported: "sent", "delivered" or "read"
	// (default "read").
	StopAt string `json:"stop_at"`
	// DuplicateRate is the probability that a webhook is delivered twice.
	DuplicateRate float64 `json:"duplicate_rate"`
	// ReorderRate is the probability that a message's statuses are
	// delivered in reverse order (read, delivered, sent).
	ReorderRate float64 `json:"reorder_rate"`
	// WebhookMaxAttempts bounds webhook deliveries per payload when the
	// receiver does not answer 2xx (Meta retries for days); default 5.
	WebhookMaxAttempts int `json:"webhook_max_attempts"`
	// WebhookRetryDelay is the first retry delay, doubled each attempt;
	// default 1s.
	WebhookRetryDelay time.Duration `json:"webhook_retry_delay"`
	// WebhookRetryMaxDelay caps the retry delay; 0: no cap.
	WebhookRetryMaxDelay time.Duration `json:"webhook_retry_max_delay"`
}

func (k Knobs) withDefaults() Knobs {
	switch k.StopAt {
	case whatsapp.StatusSent, whatsapp.StatusDelivered, whatsapp.StatusRead:
	default:
		k.StopAt = whatsapp.StatusRead
	}
	if k.WebhookMaxAttempts <= 0 {
		k.WebhookMaxAttempts = 5
	}
	if k.WebhookRetryDelay <= 0 {
		k.WebhookRetryDelay = time.Second
	}
	return k
}

// Server is the emulator. It is an http.Handler; Start serves it on an
// address. Close must be called: it stops the webhook senders.
type Server struct {
	cfg           Config
	log           *slog.Logger
	now           func() time.Time
	webhookClient *http.Client

	token        atomic.Pointer[string]
	tokenExpired atomic.Bool
	knobs        atomic.Pointer[Knobs]
	knobsMu      sync.Mutex

	fail5xx     atomic.Int64
	fail5xxCode atomic.Int64

	stateMu      sync.RWMutex
	failures     map[string]int       // wa_id -> error code
	closed       map[string]bool      // wa_id -> window forced closed
	lastInbound  map[string]time.Time // wa_id -> last inbound message
	templates    []whatsapp.TemplateInfo
	throughput   sync.Map // phone number ID -> *rate.Limiter
	pairLimiters sync.Map // phone number ID + wa_id -> *rate.Limiter

	seq   atomic.Uint64
	store *store
	feeds feedHub
	media *mediaStore
	hooks *webhooks

	mux *http.ServeMux

	lnMu sync.Mutex
	srv  *http.Server
	url  string
}

// New returns a Server; it does not listen (see Start, or mount it on an
// httptest.Server).
func New(cfg Config) *Server {
	if cfg.APIVersion == "" {
		cfg.APIVersion = DefaultAPIVersion
	}
	if cfg.PhoneNumberID == "" {
		cfg.PhoneNumberID = DefaultPhoneNumberID
	}
	if cfg.DisplayPhoneNumber == "" {
		cfg.DisplayPhoneNumber = DefaultDisplayPhoneNumber
	}
	if cfg.WABAID == "" {
		cfg.WABAID = DefaultWABAID
	}
	if cfg.Templates == nil {
		cfg.Templates = DefaultTemplates()
	}
	if cfg.MaxRecorded <= 0 {
		cfg.MaxRecorded = 10_000
	}
	if cfg.MaxMessagesPerRecipient <= 0 {
		cfg.MaxMessagesPerRecipient = 1_000
	}
	if cfg.MaxMediaBytes <= 0 {
		cfg.MaxMediaBytes = 1 << 30
	}
	if cfg.WebhookWorkers <= 0 {
		cfg.WebhookWorkers = 8
	}
	if cfg.HTTPClient == nil {
		// One kept-alive connection per webhook worker: with net/http's default
		// of two idle connections per host, the others would dial anew for every
		// webhook.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = cfg.WebhookWorkers
		cfg.HTTPClient = &http.Client{Transport: t, Timeout: 10 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{
		cfg:           cfg,
		log:           cfg.Logger,
		now:           cfg.Now,
		webhookClient: cfg.HTTPClient,
		failures:      map[string]int{},
		closed:        map[string]bool{},
		lastInbound:   map[string]time.Time{},
		templates:     append([]whatsapp.TemplateInfo(nil), cfg.Templates...),
		store:         newStore(cfg.MaxRecorded, cfg.MaxMessagesPerRecipient),
		media:         newMediaStore(cfg.MaxMediaBytes),
	}
	token := cfg.AccessToken
	s.token.Store(&token)
	k := cfg.Knobs.withDefaults()
	s.knobs.Store(&k)
	s.hooks = newWebhooks(s)
	s.mux = s.controlMux()
	return s
}

// DefaultTemplates is the catalogue of a new WhatsApp Business Account:
// Meta's sample template hello_world.
func DefaultTemplates() []whatsapp.TemplateInfo {
	return []whatsapp.TemplateInfo{{
		ID: "1192339204654487", Name: "hello_world", Language: "en_US", Status: "APPROVED",
		Category: "UTILITY", ParameterFormat: "POSITIONAL",
		Components: []whatsapp.TemplateComponentInfo{
			{Type: "HEADER", Format: "TEXT", Text: "Hello World"},
			{Type: "BODY", Text: "Welcome and congratulations!! This message demonstrates your ability to send a WhatsApp message notification from the Cloud API, hosted by Meta. Thank you for taking the time to test with us."},
			{Type: "FOOTER", Text: "WhatsApp Business Platform sample message"},
		},
	}}
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves in the background
// until Close. The listen error is returned synchronously.
func (s *Server) Start(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("emulator listen: %w", err)
	}
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	if s.srv != nil {
		ln.Close()
		return errors.New("emulator: already started")
	}
	// Meta's API speaks HTTP/2 (over TLS); here, without TLS, h2c with prior
	// knowledge beside HTTP/1.1, so a client multiplexes as it would with Meta.
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, Protocols: &protocols}
	s.url = "http://" + ln.Addr().String()
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("emulator: serve", "error", err)
		}
	}()
	return nil
}

// URL is the root URL after Start, e.g. "http://127.0.0.1:41234".
func (s *Server) URL() string {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	return s.url
}

// BaseURL is URL plus the API version: the client's Options.BaseURL.
func (s *Server) BaseURL() string { return s.URL() + "/" + s.cfg.APIVersion }

// SetURL tells a Server mounted elsewhere (httptest.NewServer(srv)) its root
// URL, used in media download URLs.
func (s *Server) SetURL(u string) {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	s.url = strings.TrimRight(u, "/")
}

// Close stops serving (gracefully, bounded by ctx) and stops the webhook
// senders; pending webhooks are dropped.
func (s *Server) Close(ctx context.Context) error {
	s.lnMu.Lock()
	srv := s.srv
	s.lnMu.Unlock()
	var err error
	if srv != nil {
		// A connection a client opened and never used counts as busy for five
		// seconds in net/http's Shutdown: past a short grace, close what remains.
		grace, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
		if err = srv.Shutdown(grace); errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = srv.Close()
		}
		cancel()
	}
	s.hooks.close()
	s.webhookClient.CloseIdleConnections()
	return err
}

// Knobs returns the current knobs.
func (s *Server) Knobs() Knobs { return *s.knobs.Load() }

// SetKnobs replaces the knobs (defaults applied).
func (s *Server) SetKnobs(k Knobs) {
	k = k.withDefaults()
	s.knobsMu.Lock()
	defer s.knobsMu.Unlock()
	s.knobs.Store(&k)
	s.throughput.Clear()
	s.pairLimiters.Clear()
}

// UpdateKnobs applies f to a copy of the knobs and stores the result.
func (s *Server) UpdateKnobs(f func(*Knobs)) {
	s.knobsMu.Lock()
	k := *s.knobs.Load()
	f(&k)
	k = k.withDefaults()
	s.knobs.Store(&k)
	s.knobsMu.Unlock()
	s.throughput.Clear()
	s.pairLimiters.Clear()
}

// SetLatency sets a fixed latency plus uniform jitter.
func (s *Server) SetLatency(latency, jitter time.Duration) {
	s.UpdateKnobs(func(k *Knobs) { k.Latency, k.LatencyJitter = latency, jitter })
}

// SetThroughputCap answers 130429 beyond n messages per second per phone
// number ID; 0 disables.
func (s *Server) SetThroughputCap(n float64) {
	s.UpdateKnobs(func(k *Knobs) { k.ThroughputCap = n })
}

// FailRecipient makes every message to waID fail with code (131026
// undeliverable, 131030 not in allow-list, 131047, 131049, 131050, ...),
// synchronously or by webhook per Knobs.SyncFailures. Code 0 clears it.
func (s *Server) FailRecipient(waID string, code int) {
	waID = digits(waID)
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	if code == 0 {
		delete(s.failures, waID)
		return
	}
	s.failures[waID] = code
}

// CloseWindow closes waID's customer service window: non-template messages
// fail with 131047 until the user writes again (SendInbound) or OpenWindow.
func (s *Server) CloseWindow(waID string) {
	waID = digits(waID)
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	s.closed[waID] = true
	delete(s.lastInbound, waID)
}

// OpenWindow opens waID's window as if the user had just written.
func (s *Server) OpenWindow(waID string) {
	waID = digits(waID)
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	delete(s.closed, waID)
	s.lastInbound[waID] = s.now()
}

// Fail5xx makes the next n API requests fail with HTTP 500 and the given
// Meta code (0 means 131000 "Something went wrong"; 131016, 133004, 2 and
// 131057 are the other documented transient codes).
func (s *Server) Fail5xx(n int, code int) {
	if code == 0 {
		code = 131000
	}
	s.fail5xxCode.Store(int64(code))
	s.fail5xx.Store(int64(n))
}

// ExpireToken makes every request fail with 190 (session expired) until
// SetAccessToken.
func (s *Server) ExpireToken() { s.tokenExpired.Store(true) }

// SetAccessToken installs a new valid token (and clears ExpireToken).
func (s *Server) SetAccessToken(token string) {
	s.token.Store(&token)
	s.tokenExpired.Store(false)
}

// AddTemplate adds or replaces (same name and language) a catalogue entry.
func (s *Server) AddTemplate(t whatsapp.TemplateInfo) {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	for i, old := range s.templates {
		if old.Name == t.Name && old.Language == t.Language {
			s.templates[i] = t
			return
		}
	}
	s.templates = append(s.templates, t)
}

// Templates returns the catalogue.
func (s *Server) Templates() []whatsapp.TemplateInfo {
	s.stateMu.RLock()
	defer s.stateMu.RUnlock()
	return append([]whatsapp.TemplateInfo(nil), s.templates...)
}

// Reset forgets recorded requests, conversations, media, windows, failures
// and restores the configured knobs, token and templates.
func (s *Server) Reset() {
	s.SetKnobs(s.cfg.Knobs)
	s.SetAccessToken(s.cfg.AccessToken)
	s.fail5xx.Store(0)
	s.stateMu.Lock()
	s.failures = map[string]int{}
	s.closed = map[string]bool{}
	s.lastInbound = map[string]time.Time{}
	s.templates = append([]whatsapp.TemplateInfo(nil), s.cfg.Templates...)
	s.stateMu.Unlock()
	s.store.reset()
	s.media.reset()
	s.feeds.publish(EventReset, ConversationMessage{})
}

// windowOpen reports whether waID may receive a non-template message.
func (s *Server) windowOpen(waID string, k *Knobs) bool {
	s.stateMu.RLock()
	defer s.stateMu.RUnlock()
	if s.closed[waID] {
		return false
	}
	if !k.RequireWindow {
		return true
	}
	last, ok := s.lastInbound[waID]
	// D: messages/send-messages, "Customer service windows": 24 hours from
	// the user's last message.
	return ok && s.now().Sub(last) < 24*time.Hour
}

func (s *Server) recipientFailure(waID string) int {
	s.stateMu.RLock()
	defer s.stateMu.RUnlock()
	return s.failures[waID]
}

func (s *Server) allowThroughput(phoneID string, k *Knobs) bool {
	if k.ThroughputCap <= 0 {
		return true
	}
	l, ok := s.throughput.Load(phoneID)
	if !ok {
		l, _ = s.throughput.LoadOrStore(phoneID, rate.NewLimiter(rate.Limit(k.ThroughputCap), max(1, int(k.ThroughputCap))))
	}
	return l.(*rate.Limiter).Allow()
}

func (s *Server) allowPair(phoneID, waID string, k *Knobs) bool {
	if k.PairRateEvery <= 0 {
		return true
	}
	key := phoneID + "/" + waID
	l, ok := s.pairLimiters.Load(key)
	if !ok {
		l, _ = s.pairLimiters.LoadOrStore(key, rate.NewLimiter(rate.Every(k.PairRateEvery), max(1, k.PairRateBurst)))
	}
	return l.(*rate.Limiter).Allow()
}

var versionRE = regexp.MustCompile(`^v[0-9]+\.[0-9]+$`)

func digits(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			b = append(b, c)
		}
	}
	return string(b)
}

func isNumeric(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
