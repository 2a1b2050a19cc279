package whatsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// DefaultBaseURL is the Graph API base URL the client uses by default.
const DefaultBaseURL = "https://graph.facebook.com/v21.0"

// DefaultRatePerSecond is Meta's default throughput of a business phone
// number: 80 messages per second, upgradable to 1,000 (D: throughput).
const DefaultRatePerSecond = 80

// maxResponseBytes caps JSON answers; Meta's are a few KB.
const maxResponseBytes = 1 << 20

// Options configure a Client. The zero value of each field means its default.
type Options struct {
	// BaseURL is the Graph API root including the version; default
	// DefaultBaseURL. Point it at the emulator in tests.
	BaseURL string
	// AccessToken is the system user access token (required). It is sent in
	// the Authorization header only and never appears in errors, logs or
	// metrics.
	AccessToken string
	// HTTPClient defaults to NewHTTPClient().
	HTTPClient *http.Client
	// RatePerSecond limits messages per phone number ID; default 80
	// (DefaultRatePerSecond), Meta allows up to 1,000 after an upgrade.
	RatePerSecond float64
	// Burst of the rate limiter; default max(1, RatePerSecond/10).
	Burst int
	// Retry is the policy for errors where Meta certainly did not accept
	// the request.
	Retry RetryPolicy
	// Metrics are optional.
	Metrics *Metrics
	// Logger defaults to discarding.
	Logger *slog.Logger
	// MaxDownloadBytes caps DownloadMedia; default 100 MiB, the largest media
	// Meta delivers (D: business-phone-numbers/media).
	MaxDownloadBytes int64
	// RequestTimeout bounds one HTTP attempt, reading the answer included,
	// whatever deadline the caller's context has; default 60s.
	RequestTimeout time.Duration
}

// RetryPolicy is exponential backoff with full jitter: before attempt n+1
// the client sleeps a random duration in [0, min(MaxDelay, BaseDelay*2^(n-1))].
type RetryPolicy struct {
	// MaxAttempts counts the first attempt; default 4, 1 disables retries.
	MaxAttempts int
	// BaseDelay defaults to 250ms.
	BaseDelay time.Duration
	// MaxDelay defaults to 10s.
	MaxDelay time.Duration
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 4
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 250 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 10 * time.Second
	}
	return p
}

// backoff returns the upper bound of the sleep after the given failed attempt
// (1-based).
func (p RetryPolicy) backoff(attempt int) time.Duration {
	d := p.BaseDelay
	for i := 1; i < attempt && d < p.MaxDelay; i++ {
		d *= 2
	}
	return min(d, p.MaxDelay)
}

// NewHTTPClient returns an HTTP client tuned for the Cloud API: HTTP/2 when
// the server offers it (ALPN over TLS, h2c for an http:// server that answers
// it), so the requests in flight share a few connections; else keep-alive
// HTTP/1.1 connections pooled for at least 1,000 messages per second at 200 ms
// latency (200 requests in flight).
func NewHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 2048
	t.MaxIdleConnsPerHost = 1024
	t.IdleConnTimeout = 90 * time.Second
	t.ForceAttemptHTTP2 = true
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	// No Client.Timeout: it costs two goroutines per request in flight (a timer
	// and the legacy cancel channel's watcher); do bounds each request with its
	// context instead.
	return &http.Client{Transport: newH2CTransport(t)}
}

// Client calls the Cloud API for one WhatsApp Business account. It is safe
// for concurrent use; share one per account.
type Client struct {
	base       string
	baseHost   string
	token      string
	authHeader string
	hc         *http.Client
	rate       rate.Limit
	burst      int
	retry      RetryPolicy
	metrics    *Metrics
	log        *slog.Logger
	maxDL      int64
	// requestTimeout bounds one attempt (Options.RequestTimeout).
	requestTimeout time.Duration

	limiters sync.Map // phone number ID -> *rate.Limiter

	// Test hooks.
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error
	jitter func(maxDelay time.Duration) time.Duration
}

// NewClient returns a Client.
func NewClient(opts Options) (*Client, error) {
	if opts.AccessToken == "" {
		return nil, errors.New("whatsapp client: AccessToken is required")
	}
	if opts.BaseURL == "" {
		opts.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(opts.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("whatsapp client: BaseURL %q is not an http(s) URL", opts.BaseURL)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = NewHTTPClient()
	}
	if opts.RatePerSecond <= 0 {
		opts.RatePerSecond = DefaultRatePerSecond
	}
	if opts.Burst <= 0 {
		opts.Burst = max(1, int(opts.RatePerSecond/10))
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxDownloadBytes <= 0 {
		opts.MaxDownloadBytes = 100 << 20
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 60 * time.Second
	}
	return &Client{
		base:           strings.TrimRight(opts.BaseURL, "/"),
		baseHost:       u.Host,
		token:          opts.AccessToken,
		authHeader:     "Bearer " + opts.AccessToken,
		hc:             opts.HTTPClient,
		rate:           rate.Limit(opts.RatePerSecond),
		burst:          opts.Burst,
		retry:          opts.Retry.withDefaults(),
		metrics:        opts.Metrics,
		log:            opts.Logger,
		maxDL:          opts.MaxDownloadBytes,
		requestTimeout: opts.RequestTimeout,
		now:            time.Now,
		sleep:          sleepCtx,
		jitter:         func(d time.Duration) time.Duration { return rand.N(d + 1) },
	}, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// SendResult is Meta's answer to an accepted message: accepted, not yet
// delivered (D: messages/send-messages, "Responses").
type SendResult struct {
	// Input is the "to" as sent; WaID is the user's WhatsApp ID.
	Input string
	WaID  string
	// MessageID is the wamid, the key of the status webhooks.
	MessageID string
	// MessageStatus is set for templates under pacing: "accepted" or
	// "held_for_quality_assessment".
	MessageStatus string
	// Raw is the response body.
	Raw []byte
}

type sendResponse struct {
	Contacts []struct {
		Input string `json:"input"`
		WaID  string `json:"wa_id"`
	} `json:"contacts"`
	Messages []struct {
		ID            string `json:"id"`
		MessageStatus string `json:"message_status"`
	} `json:"messages"`
}

// Send validates msg and sends it from the business phone number
// phoneNumberID, waiting for that number's rate limiter. Retryable errors
// (see RetryPolicy) are retried; other errors are returned at once: classify
// them with Classify.
func (c *Client) Send(ctx context.Context, phoneNumberID string, msg Message) (SendResult, error) {
	return c.send(ctx, phoneNumberID, msg, false)
}

// Turn waits until phoneNumberID's rate limit lets one more message go, and takes
// that turn for SendTurn. A sender that must record something between the wait and
// the request (the sidecar records each dispatch before it leaves) uses the two.
func (c *Client) Turn(ctx context.Context, phoneNumberID string) error {
	if err := checkID("phone number ID", phoneNumberID); err != nil {
		return fmt.Errorf("wait for the rate limit: %w", err)
	}
	return c.waitRate(ctx, phoneNumberID)
}

// SendTurn is Send in a turn taken with Turn: the first attempt does not wait for
// the rate limiter again (a retry does).
func (c *Client) SendTurn(ctx context.Context, phoneNumberID string, msg Message) (SendResult, error) {
	return c.send(ctx, phoneNumberID, msg, true)
}

func (c *Client) send(ctx context.Context, phoneNumberID string, msg Message, turnTaken bool) (SendResult, error) {
	if err := checkID("phone number ID", phoneNumberID); err != nil {
		return SendResult{}, fmt.Errorf("send message: %w", err)
	}
	if err := msg.Validate(); err != nil {
		return SendResult{}, fmt.Errorf("send message: %w", err)
	}
	req := SendRequest{MessagingProduct: "whatsapp", RecipientType: "individual", Message: msg}
	if msg.ReplyTo != "" {
		req.Context = &MessageContext{MessageID: msg.ReplyTo}
	}
	body, err := json.Marshal(&req)
	if err != nil {
		return SendResult{}, fmt.Errorf("send message: %w", err)
	}
	raw, err := c.call(ctx, callSpec{
		endpoint: endpointMessages, method: http.MethodPost, rateKey: phoneNumberID, turnTaken: turnTaken,
		url: c.base + "/" + phoneNumberID + "/messages", body: body, contentType: "application/json",
	})
	if err != nil {
		return SendResult{}, fmt.Errorf("send message: %w", err)
	}
	var resp sendResponse
	if err := json.Unmarshal(raw, &resp); err != nil || len(resp.Messages) == 0 {
		// Meta answered 200: the message was accepted, but we cannot tell
		// its wamid. Treat like a lost answer.
		return SendResult{Raw: raw}, fmt.Errorf("send message: unreadable success body: %w", ErrOutcomeUnknown)
	}
	res := SendResult{MessageID: resp.Messages[0].ID, MessageStatus: resp.Messages[0].MessageStatus, Raw: raw}
	if len(resp.Contacts) > 0 {
		res.Input, res.WaID = resp.Contacts[0].Input, resp.Contacts[0].WaID
	}
	return res, nil
}

// MarkRead marks an inbound message as read (blue ticks), which also marks
// the earlier messages of the conversation (D: messages/mark-message-as-read).
func (c *Client) MarkRead(ctx context.Context, phoneNumberID, wamid string) error {
	if err := checkID("phone number ID", phoneNumberID); err != nil {
		return fmt.Errorf("mark read: %w", err)
	}
	if wamid == "" {
		return fmt.Errorf("mark read: %w", invalid("message_id", "required"))
	}
	body, err := json.Marshal(&SendRequest{MessagingProduct: "whatsapp", Status: "read", MessageID: wamid})
	if err != nil {
		return fmt.Errorf("mark read: %w", err)
	}
	raw, err := c.call(ctx, callSpec{
		endpoint: endpointMarkRead, method: http.MethodPost, rateKey: phoneNumberID,
		url: c.base + "/" + phoneNumberID + "/messages", body: body, contentType: "application/json",
	})
	if err != nil {
		return fmt.Errorf("mark read: %w", err)
	}
	var ok struct {
		Success bool `json:"success"`
	}
	if err := json.Unmarshal(raw, &ok); err != nil || !ok.Success {
		return fmt.Errorf("mark read: answer without success: %w", ErrOutcomeUnknown)
	}
	return nil
}

// checkID rejects IDs that are not Graph object IDs (digits), so they cannot
// change the request path.
func checkID(what, id string) error {
	if id == "" {
		return invalid(what, "required")
	}
	for _, r := range id {
		if r < '0' || r > '9' {
			return invalid(what, "%q is not a numeric Graph ID", id)
		}
	}
	return nil
}

type callSpec struct {
	endpoint    string
	method      string
	url         string
	body        []byte
	contentType string
	// rateKey is the phone number ID whose limiter the call waits for.
	rateKey string
	// turnTaken: the caller already waited for the limiter (Turn) for the first
	// attempt.
	turnTaken bool
	// idempotent calls (GET) are also retried when the outcome is unknown.
	idempotent bool
	// maxBytes caps the response body; default maxResponseBytes.
	maxBytes int64
	// header receives the response headers.
	header *http.Header
}

// call sends the request with rate limiting and retries; it returns the
// body of a 2xx answer, or an *APIError or *TransportError.
func (c *Client) call(ctx context.Context, s callSpec) ([]byte, error) {
	for attempt := 1; ; attempt++ {
		if s.rateKey != "" && !(attempt == 1 && s.turnTaken) {
			if err := c.waitRate(ctx, s.rateKey); err != nil {
				return nil, err
			}
		}
		raw, err := c.do(ctx, s)
		if err == nil {
			return raw, nil
		}
		if attempt >= c.retry.MaxAttempts || ctx.Err() != nil || !c.retriable(s, err) {
			return nil, err
		}
		delay := c.jitter(c.retry.backoff(attempt))
		c.metrics.retried(s.endpoint)
		c.log.DebugContext(ctx, "whatsapp api: retrying", "endpoint", s.endpoint,
			"attempt", attempt, "delay", delay, "error", err)
		if serr := c.sleep(ctx, delay); serr != nil {
			return nil, err
		}
	}
}

func (c *Client) retriable(s callSpec, err error) bool {
	if retriedInternally(err) {
		return true
	}
	if !s.idempotent {
		return false
	}
	if errors.Is(err, ErrOutcomeUnknown) {
		return true
	}
	ae, ok := errors.AsType[*APIError](err)
	return ok && ae.HTTPStatus >= 500
}

// do is one HTTP attempt.
func (c *Client) do(ctx context.Context, s callSpec) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.requestTimeout)
	defer cancel()
	var written atomic.Bool
	trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { written.Store(true) }}
	var body io.Reader
	if s.body != nil {
		body = bytes.NewReader(s.body)
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), s.method, s.url, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", c.authHeader)
	if s.contentType != "" {
		req.Header.Set("Content-Type", s.contentType)
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		terr := &TransportError{Op: s.endpoint, Written: written.Load(), Err: stripURL(err)}
		c.metrics.observe(s.endpoint, time.Since(start), terr, 0)
		return nil, terr
	}
	defer resp.Body.Close()
	limit := s.maxBytes
	if limit <= 0 {
		limit = maxResponseBytes
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err == nil && int64(len(raw)) > limit {
		err = fmt.Errorf("response larger than %d bytes", limit)
	}
	if err != nil {
		terr := &TransportError{Op: s.endpoint, Written: true, Err: fmt.Errorf("read response: %w", err)}
		c.metrics.observe(s.endpoint, time.Since(start), terr, resp.StatusCode)
		return nil, terr
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		ae, _ := parseAPIError(resp.StatusCode, raw, c.token)
		c.metrics.observe(s.endpoint, time.Since(start), ae, resp.StatusCode)
		return nil, ae
	}
	c.metrics.observe(s.endpoint, time.Since(start), nil, resp.StatusCode)
	if s.header != nil {
		*s.header = resp.Header
	}
	return raw, nil
}

// stripURL drops the request URL from a *url.Error: media download URLs
// carry signed query strings that have no place in logs.
func stripURL(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return fmt.Errorf("%s: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return err
}

func (c *Client) limiter(key string) *rate.Limiter {
	if l, ok := c.limiters.Load(key); ok {
		return l.(*rate.Limiter)
	}
	l, _ := c.limiters.LoadOrStore(key, rate.NewLimiter(c.rate, c.burst))
	return l.(*rate.Limiter)
}

// waitRate reserves a slot of the phone number's limiter and sleeps until it.
func (c *Client) waitRate(ctx context.Context, key string) error {
	now := c.now()
	r := c.limiter(key).ReserveN(now, 1)
	if !r.OK() {
		return errors.New("rate limiter: burst is zero")
	}
	d := r.DelayFrom(now)
	c.metrics.waited(d)
	if d <= 0 {
		return nil
	}
	if err := c.sleep(ctx, d); err != nil {
		r.CancelAt(c.now())
		return fmt.Errorf("wait for rate limiter: %w", err)
	}
	return nil
}
