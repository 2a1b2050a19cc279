// Package webhook is the public intake of Meta's webhook, GET and POST
// /whatsapp/webhook: it answers Meta's verification handshake, checks each
// delivery's X-Hub-Signature-256 against the app secret of every active account,
// stores the raw signed bytes in the whatsapp_sidecar.inbox table in one short
// statement and answers 200 at once. It parses nothing beyond "is this JSON":
// processing is the inbox processor's job (sidecar/inbound), asynchronous, so a
// slow Odoo never makes Meta retry.
//
// Hostile or careless senders cost little: a POST without a signature header is
// refused before a byte of its body is read, and at most MaxConcurrentReads
// bodies are read and held at once; a delivery beyond that waits briefly for a
// slot, then gets a 503 with Retry-After, which Meta retries.
package webhook

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/accounts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/config"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/listen"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/metrics"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/inbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
)

// DefaultMaxBodyBytes is the default size limit of a delivery: Meta batches up to
// 1,000 updates and 3 MB in one POST (D: webhooks/overview), so 8 MiB leaves room.
const DefaultMaxBodyBytes = 8 << 20

// DefaultMaxConcurrentReads is the default bound on the bodies read and held at
// once: with group commit, 64 deliveries in flight keep the inbox at its full
// throughput, and 64 times the size limit bounds the memory they take.
const DefaultMaxConcurrentReads = 64

// DefaultReadWait is how long a delivery waits for a read slot by default.
const DefaultReadWait = 2 * time.Second

// retryAfterSeconds is the Retry-After of a busy answer.
const retryAfterSeconds = "2"

// Path is where the lead mounts the handler on the public listener.
const Path = "/whatsapp/webhook"

// Inbox stores a verified delivery durably; when Store returns nil the delivery
// survives a crash.
type Inbox interface {
	Store(ctx context.Context, body []byte, signature string) error
}

// PoolInbox stores deliveries in whatsapp_sidecar.inbox, committing concurrent
// deliveries together (group commit): while Writers inserts are committing, new
// deliveries wait and go in the next insert, one multi-row statement, so throughput
// grows with load instead of being bound by one fsync per delivery. Every Store
// returns only after its own delivery is committed. No goroutine of its own: the
// callers take turns writing.
type PoolInbox struct {
	Pool *pgxpool.Pool
	// Writers is how many inserts may run at once; zero means 2.
	Writers int
	// MaxBatch bounds the deliveries of one insert; zero means 512.
	MaxBatch int

	once    sync.Once
	mu      sync.Mutex
	pending []*pendingDelivery
	slots   chan struct{}
}

type pendingDelivery struct {
	body      []byte
	signature string
	done      chan error
}

// maxBatchBytes bounds one insert's payload (Meta sends up to 3 MB per delivery).
const maxBatchBytes = 16 << 20

// Store inserts one delivery, committed before it returns nil.
func (p *PoolInbox) Store(ctx context.Context, body []byte, signature string) error {
	p.once.Do(func() {
		if p.Writers <= 0 {
			p.Writers = 2
		}
		if p.MaxBatch <= 0 {
			p.MaxBatch = 512
		}
		p.slots = make(chan struct{}, p.Writers)
	})
	d := &pendingDelivery{body: body, signature: signature, done: make(chan error, 1)}
	p.mu.Lock()
	p.pending = append(p.pending, d)
	p.mu.Unlock()
	for {
		select {
		case err := <-d.done:
			return err
		case <-ctx.Done():
			// It may still be written by the writer that took it: Meta then
			// retries a delivery already stored, which processing ignores.
			return fmt.Errorf("store delivery: %w", ctx.Err())
		case p.slots <- struct{}{}:
			batch := p.take()
			if len(batch) > 0 {
				err := p.insert(batch)
				for _, b := range batch {
					b.done <- err
				}
			}
			<-p.slots
			if len(batch) == 0 {
				// Ours was taken by another writer: its answer comes on done.
				select {
				case err := <-d.done:
					return err
				case <-ctx.Done():
					return fmt.Errorf("store delivery: %w", ctx.Err())
				}
			}
		}
	}
}

// take removes the next batch from the queue.
func (p *PoolInbox) take() []*pendingDelivery {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, size := 0, 0
	for n < len(p.pending) && n < p.MaxBatch && (n == 0 || size+len(p.pending[n].body) <= maxBatchBytes) {
		size += len(p.pending[n].body)
		n++
	}
	batch := append([]*pendingDelivery(nil), p.pending[:n]...)
	p.pending = append(p.pending[:0], p.pending[n:]...)
	return batch
}

// insert writes a batch in one statement. It serves other callers too, so it is
// not cut short by the caller's context, only bounded.
func (p *PoolInbox) insert(batch []*pendingDelivery) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bodies := make([][]byte, len(batch))
	signatures := make([]string, len(batch))
	for i, d := range batch {
		bodies[i], signatures[i] = d.body, d.signature
	}
	return inbox.Store(ctx, p.Pool, bodies, signatures)
}

// Secrets lists the app secrets and verify tokens deliveries may use.
type Secrets interface {
	// AppSecrets are the secrets one of which signs every genuine delivery.
	AppSecrets() []config.Secret
	// VerifyTokens are the tokens Meta's verification handshake may present.
	VerifyTokens() []config.Secret
}

// AccountSecrets are the secrets of the active accounts (environment overrides
// included, as the registry applies them) plus the environment's own, which count
// even when no account exists yet.
type AccountSecrets struct {
	Accounts *accounts.Registry // nil: the environment alone
	Env      config.WhatsApp
}

// AppSecrets implements Secrets.
func (s AccountSecrets) AppSecrets() []config.Secret {
	return s.collect(func(a *accounts.Account) config.Secret { return a.AppSecret }, s.Env.AppSecret)
}

// VerifyTokens implements Secrets.
func (s AccountSecrets) VerifyTokens() []config.Secret {
	return s.collect(func(a *accounts.Account) config.Secret { return a.VerifyToken }, s.Env.VerifyToken)
}

func (s AccountSecrets) collect(of func(*accounts.Account) config.Secret, env config.Secret) []config.Secret {
	var out []config.Secret
	add := func(v config.Secret) {
		if !v.IsSet() {
			return
		}
		for _, seen := range out {
			if seen == v {
				return
			}
		}
		out = append(out, v)
	}
	add(env)
	if s.Accounts != nil {
		for _, a := range s.Accounts.All() {
			add(of(a))
		}
	}
	return out
}

// Handler serves GET and POST /whatsapp/webhook. Set the exported fields; Inbox and
// Secrets are required.
type Handler struct {
	Inbox   Inbox
	Secrets Secrets
	// Bell is rung after each stored delivery (the inbox processor's); may be nil.
	Bell listen.Bell
	// MaxBodyBytes bounds a delivery; zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// StoreTimeout bounds the inbox insert; zero means 10s. Past it Meta gets a 503
	// and retries the delivery.
	StoreTimeout time.Duration
	// MaxConcurrentReads bounds the deliveries read and held in memory at once,
	// from the first byte read to the inbox's commit; zero means
	// DefaultMaxConcurrentReads.
	MaxConcurrentReads int
	// ReadWait is how long a delivery beyond MaxConcurrentReads waits for a slot
	// before a 503 with Retry-After; zero means DefaultReadWait.
	ReadWait time.Duration
	Metrics  *Metrics
	Logger   *slog.Logger

	once  sync.Once
	reads chan struct{} // one token per body being read or stored
}

// Outcomes of a request, the values of the outcome label.
const (
	OutcomeAccepted     = "accepted"
	OutcomeBadSignature = "bad_signature"
	OutcomeUnsigned     = "unsigned"
	OutcomeTooLarge     = "too_large"
	OutcomeBadJSON      = "bad_json"
	OutcomeVerifyOK     = "verify_ok"
	OutcomeVerifyFailed = "verify_failed"
	OutcomeStoreFailed  = "store_failed"
	OutcomeBadMethod    = "method_not_allowed"
	OutcomeNoSecret     = "no_secret"
	OutcomeReadFailed   = "read_failed"
	OutcomeBusy         = "busy"
)

// Metrics of the intake.
type Metrics struct {
	requests *prometheus.CounterVec
	duration prometheus.Histogram
	bytes    prometheus.Histogram
}

// NewMetrics registers the intake's metrics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "webhook", Name: "requests_total",
			Help: "Requests to /whatsapp/webhook by outcome: accepted, bad_signature, unsigned, too_large, bad_json, " +
				"verify_ok, verify_failed, store_failed, no_secret, read_failed, busy (503: MaxConcurrentReads reached), method_not_allowed.",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: metrics.Namespace, Subsystem: "webhook", Name: "intake_duration_seconds",
			Help:    "Time from reading a delivery to answering it (signature check and durable insert included).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		bytes: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: metrics.Namespace, Subsystem: "webhook", Name: "body_bytes",
			Help:    "Size of the deliveries accepted.",
			Buckets: prometheus.ExponentialBuckets(256, 4, 10),
		}),
	}
	// Every outcome shows from the start, at zero, so alerts on rates work at once.
	for _, o := range []string{OutcomeAccepted, OutcomeBadSignature, OutcomeUnsigned, OutcomeTooLarge, OutcomeBadJSON,
		OutcomeVerifyOK, OutcomeVerifyFailed, OutcomeStoreFailed, OutcomeBadMethod, OutcomeNoSecret, OutcomeReadFailed, OutcomeBusy} {
		m.requests.WithLabelValues(o)
	}
	reg.MustRegister(m.requests, m.duration, m.bytes)
	return m
}

func (h *Handler) count(outcome string) {
	if h.Metrics != nil {
		h.Metrics.requests.WithLabelValues(outcome).Inc()
	}
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		h.verify(w, r)
	case http.MethodPost:
		h.receive(w, r)
	default:
		h.count(OutcomeBadMethod)
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// verify answers Meta's subscription handshake (D: webhooks/create-webhook-endpoint):
// hub.challenge as plain text when hub.mode is subscribe and hub.verify_token is
// one of ours.
func (h *Handler) verify(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	mode, token, challenge := q.Get("hub.mode"), q.Get("hub.verify_token"), q.Get("hub.challenge")
	ok := mode == "subscribe" && token != "" && len(challenge) <= 1024
	if ok {
		ok = false
		for _, t := range h.verifyTokens() {
			// Every token is compared, in constant time, so the answer's timing
			// tells nothing about which one came close.
			if subtle.ConstantTimeCompare([]byte(t.Reveal()), []byte(token)) == 1 {
				ok = true
			}
		}
	}
	if !ok {
		h.count(OutcomeVerifyFailed)
		h.logger().Warn("webhook verification refused: wrong mode or verify token", "mode", mode)
		http.Error(w, "verification failed", http.StatusForbidden)
		return
	}
	h.count(OutcomeVerifyOK)
	h.logger().Info("webhook verified by Meta")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, challenge)
}

var bufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// receive checks and stores one delivery. Everything that can be refused from
// the headers alone is refused before the body is read.
func (h *Handler) receive(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	limit := h.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	// Refusals before reading close the connection: otherwise net/http would
	// read up to 256 KiB of the unwanted body to reuse it.
	header := r.Header.Get(whatsapp.SignatureHeader)
	if header == "" {
		w.Header().Set("Connection", "close")
		h.refuse(w, OutcomeUnsigned, http.StatusForbidden, "unsigned delivery refused")
		return
	}
	if r.ContentLength > limit {
		w.Header().Set("Connection", "close")
		h.refuse(w, OutcomeTooLarge, http.StatusRequestEntityTooLarge, "body too large", "bytes", r.ContentLength)
		return
	}
	secrets := h.appSecrets()
	if len(secrets) == 0 {
		// Nothing can be verified: refuse rather than accept unverifiable input.
		// Meta retries for days, so the deliveries arrive once a secret is set.
		w.Header().Set("Connection", "close")
		h.refuse(w, OutcomeNoSecret, http.StatusServiceUnavailable,
			"no app secret configured (whatsapp_config.facebook_app_secret or WHATSAPP_APP_SECRET): delivery refused")
		return
	}
	release, ok := h.acquireRead(r.Context())
	if !ok {
		// Genuine traffic, so no forced close: net/http keeps the connection when
		// the body is small. Debug, not warn: a burst would flood the log, and
		// the busy outcome counts them.
		h.count(OutcomeBusy)
		h.logger().Debug("webhook: too many deliveries being read, Meta will retry", "status", http.StatusServiceUnavailable)
		w.Header().Set("Retry-After", retryAfterSeconds)
		http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
		return
	}
	defer release()

	buf := bufferPool.Get().(*bytes.Buffer)
	buf.Reset()
	reuse := true
	defer func() {
		// Kept small; and not reused after a failed Store, which may still hold
		// the bytes (a writer may be inserting them).
		if reuse && buf.Cap() <= 1<<20 {
			bufferPool.Put(buf)
		}
	}()
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit)); err != nil {
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			h.refuse(w, OutcomeTooLarge, http.StatusRequestEntityTooLarge, "body too large", "limit", limit)
			return
		}
		h.refuse(w, OutcomeReadFailed, http.StatusBadRequest, "unreadable body", "err", err)
		return
	}
	body := buf.Bytes()

	if !signedByAny(secrets, body, header) {
		h.refuse(w, OutcomeBadSignature, http.StatusForbidden, "delivery with a wrong signature refused")
		return
	}
	if !isJSONObject(body) {
		h.refuse(w, OutcomeBadJSON, http.StatusBadRequest, "signed delivery is not a JSON object")
		return
	}

	timeout := h.StoreTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), timeout)
	defer cancel()
	err := errors.New("no inbox configured")
	if h.Inbox != nil {
		err = h.Inbox.Store(ctx, body, header)
	}
	if err != nil {
		reuse = false
		// 503: Meta retries, and nothing was acknowledged that is not stored.
		h.refuse(w, OutcomeStoreFailed, http.StatusServiceUnavailable, "delivery not stored, Meta will retry", "err", err)
		return
	}
	if h.Bell != nil {
		h.Bell.Ring()
	}
	h.count(OutcomeAccepted)
	if h.Metrics != nil {
		h.Metrics.duration.Observe(time.Since(start).Seconds())
		h.Metrics.bytes.Observe(float64(len(body)))
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", "2")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "OK")
}

// acquireRead takes a read slot, waiting at most ReadWait (or until the client
// goes away); release gives it back.
func (h *Handler) acquireRead(ctx context.Context) (release func(), ok bool) {
	h.once.Do(func() {
		n := h.MaxConcurrentReads
		if n <= 0 {
			n = DefaultMaxConcurrentReads
		}
		h.reads = make(chan struct{}, n)
	})
	release = func() { <-h.reads }
	select {
	case h.reads <- struct{}{}:
		return release, true
	default:
	}
	wait := h.ReadWait
	if wait <= 0 {
		wait = DefaultReadWait
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case h.reads <- struct{}{}:
		return release, true
	case <-timer.C:
		return nil, false
	case <-ctx.Done():
		return nil, false
	}
}

// appSecrets and verifyTokens read Secrets; a handler without it verifies nothing
// and so accepts nothing.
func (h *Handler) appSecrets() []config.Secret {
	if h.Secrets == nil {
		return nil
	}
	return h.Secrets.AppSecrets()
}

func (h *Handler) verifyTokens() []config.Secret {
	if h.Secrets == nil {
		return nil
	}
	return h.Secrets.VerifyTokens()
}

func (h *Handler) refuse(w http.ResponseWriter, outcome string, status int, msg string, attrs ...any) {
	h.count(outcome)
	h.logger().Warn("webhook: "+msg, append(attrs, "status", status)...)
	http.Error(w, http.StatusText(status), status)
}

// signedByAny says whether header is body's signature under one of secrets. Each
// secret is tried (several accounts may share one endpoint); the comparison itself
// is constant-time (whatsapp.VerifySignature).
func signedByAny(secrets []config.Secret, body []byte, header string) bool {
	for _, s := range secrets {
		if whatsapp.VerifySignature([]byte(s.Reveal()), body, header) {
			return true
		}
	}
	return false
}

// isJSONObject is the only parsing done before storing: a JSON object, as every
// Meta delivery is. Anything else signed is a sender bug worth a 400 in its logs.
func isJSONObject(body []byte) bool {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	return len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(body)
}

// Handle registers the handler on mux at Path (GET and POST), as the lead mounts it.
func (h *Handler) Handle(mux *http.ServeMux) {
	mux.Handle(Path, h)
}
