package whatsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const secretToken = "EAAGsecretTOKENvalue123"

// fakeGraph answers with the scripted responses in order (the last one
// repeats) and counts requests.
type fakeGraph struct {
	srv      *httptest.Server
	mu       sync.Mutex
	script   []fakeAnswer
	requests []*http.Request
	bodies   [][]byte
}

type fakeAnswer struct {
	status int
	body   string
}

func newFakeGraph(t *testing.T, answers ...fakeAnswer) *fakeGraph {
	t.Helper()
	f := &fakeGraph{script: answers}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "PRI" {
			// The client's h2c probe: this server speaks HTTP/1.1 only.
			w.WriteHeader(http.StatusHTTPVersionNotSupported)
			return
		}
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		n := len(f.requests)
		f.requests = append(f.requests, r)
		f.bodies = append(f.bodies, body)
		a := f.script[min(n, len(f.script)-1)]
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGraph) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

// fakeClock records sleeps instead of sleeping; time advances only by them.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	return ctx.Err()
}

func newTestClient(t *testing.T, baseURL string, opts Options) (*Client, *fakeClock) {
	t.Helper()
	opts.BaseURL = baseURL
	if opts.AccessToken == "" {
		opts.AccessToken = secretToken
	}
	hc := NewHTTPClient()
	t.Cleanup(hc.CloseIdleConnections)
	opts.HTTPClient = hc
	c, err := NewClient(opts)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	c.now, c.sleep = clock.Now, clock.Sleep
	c.jitter = func(d time.Duration) time.Duration { return d } // upper bound of the full jitter
	return c, clock
}

const okSend = `{"messaging_product":"whatsapp","contacts":[{"input":"+221771234567","wa_id":"221771234567"}],"messages":[{"id":"wamid.A"}]}`

func metaErrorBody(code int, title string) string {
	return fmt.Sprintf(`{"error":{"message":"(#%d) %s","type":"OAuthException","code":%d,"error_data":{"messaging_product":"whatsapp","details":"%s details"},"fbtrace_id":"Az8or2yhqkZfEZ"}}`, code, title, code, title)
}

func TestSendParsesResult(t *testing.T) {
	t.Parallel()
	f := newFakeGraph(t, fakeAnswer{200, okSend})
	c, _ := newTestClient(t, f.srv.URL+"/v21.0", Options{})
	msg := TextMessage(to, "Bonjour")
	msg.ReplyTo, msg.BizOpaqueCallbackData = "wamid.PREV", "row:1"
	res, err := c.Send(context.Background(), "106540352242922", msg)
	if err != nil {
		t.Fatal(err)
	}
	if res.WaID != "221771234567" || res.MessageID != "wamid.A" || res.Input != to || string(res.Raw) != okSend {
		t.Fatalf("result %+v", res)
	}
	r := f.requests[0]
	if r.URL.Path != "/v21.0/106540352242922/messages" || r.Header.Get("Authorization") != "Bearer "+secretToken ||
		r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("request %s %v", r.URL, r.Header)
	}
	want := `{"messaging_product":"whatsapp","recipient_type":"individual","context":{"message_id":"wamid.PREV"},"to":"+221771234567","type":"text","biz_opaque_callback_data":"row:1","text":{"body":"Bonjour"}}`
	if string(f.bodies[0]) != want {
		t.Fatalf("body\n got %s\nwant %s", f.bodies[0], want)
	}
}

func TestSendRejectsBeforeSending(t *testing.T) {
	t.Parallel()
	f := newFakeGraph(t, fakeAnswer{200, okSend})
	c, _ := newTestClient(t, f.srv.URL, Options{})
	for _, tc := range []struct {
		phoneID string
		msg     Message
	}{
		{"../../me", TextMessage(to, "x")},
		{"", TextMessage(to, "x")},
		{"1", ButtonsMessage(to, "x", ButtonReply{ID: "a", Title: strings.Repeat("x", 21)})},
	} {
		if _, err := c.Send(context.Background(), tc.phoneID, tc.msg); Classify(err) != ClassInvalidRequest {
			t.Fatalf("Send(%q) = %v, want invalid request", tc.phoneID, err)
		}
	}
	if f.count() != 0 {
		t.Fatalf("%d requests sent", f.count())
	}
}

func TestRetryBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		answers  []fakeAnswer
		policy   RetryPolicy
		requests int
		sleeps   []time.Duration
		class    Class
	}{
		{"ThroughputThenOK", []fakeAnswer{{400, metaErrorBody(130429, "Rate limit hit")}, {400, metaErrorBody(130429, "Rate limit hit")}, {200, okSend}},
			RetryPolicy{MaxAttempts: 5, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}, 3,
			[]time.Duration{100 * time.Millisecond, 200 * time.Millisecond}, ClassNone},
		{"CappedAndExhausted", []fakeAnswer{{500, metaErrorBody(131000, "Something went wrong")}},
			RetryPolicy{MaxAttempts: 5, BaseDelay: 100 * time.Millisecond, MaxDelay: 300 * time.Millisecond}, 5,
			[]time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond}, ClassRetryable},
		{"Transient131016", []fakeAnswer{{500, metaErrorBody(131016, "Service unavailable")}, {200, okSend}},
			RetryPolicy{MaxAttempts: 2, BaseDelay: 10 * time.Millisecond}, 2, []time.Duration{10 * time.Millisecond}, ClassNone},
		{"MaintenanceMode", []fakeAnswer{{500, metaErrorBody(131057, "Account in maintenance mode")}, {200, okSend}},
			RetryPolicy{MaxAttempts: 2, BaseDelay: 10 * time.Millisecond}, 2, []time.Duration{10 * time.Millisecond}, ClassNone},
		{"DisabledWithOneAttempt", []fakeAnswer{{400, metaErrorBody(130429, "Rate limit hit")}},
			RetryPolicy{MaxAttempts: 1}, 1, nil, ClassRetryable},
		{"ReEngagementNotRetried", []fakeAnswer{{400, metaErrorBody(131047, "Re-engagement message")}},
			RetryPolicy{MaxAttempts: 5}, 1, nil, ClassReEngagement},
		{"PairRateNotRetried", []fakeAnswer{{400, metaErrorBody(131056, "pair rate limit hit")}},
			RetryPolicy{MaxAttempts: 5}, 1, nil, ClassRetryLaterForRecipient},
		{"ProxyGatewayNotRetried", []fakeAnswer{{502, `<html>Bad Gateway</html>`}},
			RetryPolicy{MaxAttempts: 5}, 1, nil, ClassRetryable},
		{"Bare503Retried", []fakeAnswer{{503, ``}, {200, okSend}},
			RetryPolicy{MaxAttempts: 5, BaseDelay: time.Millisecond}, 2, []time.Duration{time.Millisecond}, ClassNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeGraph(t, tt.answers...)
			c, clock := newTestClient(t, f.srv.URL, Options{Retry: tt.policy, RatePerSecond: 1e6, Burst: 1e6})
			_, err := c.Send(context.Background(), "1", TextMessage(to, "x"))
			if got := Classify(err); got != tt.class {
				t.Fatalf("Classify(%v) = %v, want %v", err, got, tt.class)
			}
			if f.count() != tt.requests {
				t.Fatalf("%d requests, want %d", f.count(), tt.requests)
			}
			if fmt.Sprint(clock.sleeps) != fmt.Sprint(tt.sleeps) {
				t.Fatalf("sleeps %v, want %v", clock.sleeps, tt.sleeps)
			}
		})
	}
}

func TestRetryJitterWithinBound(t *testing.T) {
	t.Parallel()
	p := RetryPolicy{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}.withDefaults()
	c, _ := NewClient(Options{AccessToken: "x"})
	for attempt := 1; attempt < 10; attempt++ {
		bound := p.backoff(attempt)
		for range 100 {
			if d := c.jitter(bound); d < 0 || d > bound {
				t.Fatalf("jitter %v outside [0, %v]", d, bound)
			}
		}
	}
}

func TestRetryStopsOnCancel(t *testing.T) {
	t.Parallel()
	f := newFakeGraph(t, fakeAnswer{400, metaErrorBody(130429, "Rate limit hit")})
	c, _ := newTestClient(t, f.srv.URL, Options{Retry: RetryPolicy{MaxAttempts: 10}})
	ctx, cancel := context.WithCancel(context.Background())
	c.sleep = func(context.Context, time.Duration) error { cancel(); return context.Canceled }
	_, err := c.Send(ctx, "1", TextMessage(to, "x"))
	if Classify(err) != ClassRetryable || f.count() != 1 {
		t.Fatalf("err %v after %d requests", err, f.count())
	}
}

// TestRateLimitPerPhoneNumber: sends wait for their phone number's limiter
// (80/s by default); other numbers are not slowed.
func TestRateLimitPerPhoneNumber(t *testing.T) {
	t.Parallel()
	f := newFakeGraph(t, fakeAnswer{200, okSend})
	reg := prometheus.NewRegistry()
	c, clock := newTestClient(t, f.srv.URL, Options{RatePerSecond: 10, Burst: 1, Metrics: NewMetrics(reg)})
	for range 4 {
		if _, err := c.Send(context.Background(), "111", TextMessage(to, "x")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Send(context.Background(), "222", TextMessage(to, "x")); err != nil {
		t.Fatal(err)
	}
	// The clock does not move: each send reserves the next 100 ms slot.
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond}
	if fmt.Sprint(clock.sleeps) != fmt.Sprint(want) {
		t.Fatalf("rate limiter sleeps %v, want %v", clock.sleeps, want)
	}
	if n := testutil.CollectAndCount(reg, "whatsapp_api_rate_limit_wait_seconds"); n != 1 {
		t.Fatalf("wait histogram series = %d", n)
	}

	d, _ := NewClient(Options{AccessToken: "x"})
	if d.rate != DefaultRatePerSecond || d.burst != 8 {
		t.Fatalf("default rate %v burst %d", d.rate, d.burst)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	f := newFakeGraph(t, fakeAnswer{400, metaErrorBody(130429, "Rate limit hit")}, fakeAnswer{200, okSend}, fakeAnswer{400, metaErrorBody(131047, "Re-engagement")})
	reg := prometheus.NewRegistry()
	c, _ := newTestClient(t, f.srv.URL, Options{Metrics: NewMetrics(reg), Retry: RetryPolicy{MaxAttempts: 2}})
	_, _ = c.Send(context.Background(), "1", TextMessage(to, "x"))
	_, _ = c.Send(context.Background(), "1", TextMessage(to, "x"))

	want := `
# HELP whatsapp_api_requests_total Cloud API requests by endpoint, outcome (ok, error) and code (Meta error code, HTTP status, or network).
# TYPE whatsapp_api_requests_total counter
whatsapp_api_requests_total{code="130429",endpoint="messages",outcome="error"} 1
whatsapp_api_requests_total{code="131047",endpoint="messages",outcome="error"} 1
whatsapp_api_requests_total{code="200",endpoint="messages",outcome="ok"} 1
# HELP whatsapp_api_retries_total Cloud API requests sent again after a retryable error.
# TYPE whatsapp_api_retries_total counter
whatsapp_api_retries_total{endpoint="messages"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "whatsapp_api_requests_total", "whatsapp_api_retries_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(reg, "whatsapp_api_request_duration_seconds"); n != 1 {
		t.Fatalf("duration series = %d", n)
	}
	out, _ := reg.Gather()
	for _, mf := range out {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), "221") || strings.Contains(l.GetValue(), secretToken) {
					t.Fatalf("label %s=%s leaks a number or token", l.GetName(), l.GetValue())
				}
			}
		}
	}
}

func TestAPIErrorParsing(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "meta", "errors", "130429_rate_limit.json"))
	if err != nil {
		t.Fatal(err)
	}
	ae, ok := parseAPIError(400, body, secretToken)
	if !ok || ae.Code != 130429 || ae.Subcode != 2494055 || ae.Type != "OAuthException" || ae.FBTraceID != "Az8or2yhqkZfEZ-_4Qn_Bam" ||
		ae.Details != "Cloud API message throughput has been reached." || !ae.Retryable() {
		t.Fatalf("parsed %+v", ae)
	}
	if got := ae.Error(); got != "whatsapp api: (#130429) Rate limit hit: Cloud API message throughput has been reached. [fbtrace_id Az8or2yhqkZfEZ-_4Qn_Bam]" {
		t.Fatalf("Error() = %q", got)
	}
	// Should Meta ever echo the token, it is redacted.
	echo := `{"error":{"message":"Invalid OAuth access token ` + secretToken + `","type":"OAuthException","code":190,"fbtrace_id":"x"}}`
	f := newFakeGraph(t, fakeAnswer{401, echo})
	c, _ := newTestClient(t, f.srv.URL, Options{})
	_, err = c.Send(context.Background(), "1", TextMessage(to, "x"))
	if err == nil || strings.Contains(err.Error(), secretToken) || Classify(err) != ClassAuth {
		t.Fatalf("err = %v", err)
	}
	if _, ok := parseAPIError(502, []byte("<html>"), ""); ok {
		t.Fatal("HTML parsed as a Graph error")
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code   int
		status int
		want   Class
	}{
		{130429, 400, ClassRetryable}, {131000, 500, ClassRetryable}, {131016, 500, ClassRetryable},
		{131057, 500, ClassRetryable}, {133004, 503, ClassRetryable}, {2, 503, ClassRetryable},
		{4, 400, ClassRetryable}, {80007, 400, ClassRetryable},
		{131056, 400, ClassRetryLaterForRecipient},
		{131047, 400, ClassReEngagement},
		{131026, 400, ClassUndeliverable}, {131049, 400, ClassUndeliverable}, {131050, 400, ClassUndeliverable},
		{190, 401, ClassAuth}, {0, 401, ClassAuth}, {10, 403, ClassAuth}, {200, 403, ClassAuth},
		{131030, 400, ClassConfig}, {131031, 403, ClassConfig}, {133010, 400, ClassConfig},
		{368, 403, ClassPolicy},
		{100, 400, ClassInvalidRequest}, {132000, 400, ClassInvalidRequest}, {132001, 404, ClassInvalidRequest},
		{132015, 400, ClassInvalidRequest}, {131008, 400, ClassInvalidRequest},
		{131053, 400, ClassMedia}, {131052, 400, ClassMedia},
		{999999, 400, ClassUnknown}, {0, 500, ClassRetryable},
	}
	for _, tt := range tests {
		err := fmt.Errorf("send message: %w", &APIError{Code: tt.code, HTTPStatus: tt.status})
		if got := Classify(err); got != tt.want {
			t.Errorf("Classify(code %d, http %d) = %v, want %v", tt.code, tt.status, got, tt.want)
		}
	}
	if ClassifyCode(131047) != ClassReEngagement || Classify(nil) != ClassNone {
		t.Fatal("ClassifyCode / nil")
	}
	unknown := &TransportError{Op: "messages", Written: true, Err: context.DeadlineExceeded}
	notSent := &TransportError{Op: "messages", Err: errors.New("connection refused")}
	if Classify(unknown) != ClassOutcomeUnknown || !errors.Is(unknown, ErrOutcomeUnknown) || errors.Is(unknown, ErrNotSent) ||
		!errors.Is(unknown, context.DeadlineExceeded) {
		t.Fatal("written transport error")
	}
	if Classify(notSent) != ClassRetryable || !errors.Is(notSent, ErrNotSent) || errors.Is(notSent, ErrOutcomeUnknown) {
		t.Fatal("unwritten transport error")
	}
	for _, code := range []int{131047, 131026, 131030, 131031, 131056, 130429, 190, 131053, 100, 368} {
		if CodeDescription(code) == "" {
			t.Errorf("no description for %d", code)
		}
	}
	if !strings.Contains(CodeDescription(131047), "24 hours") || !strings.Contains(CodeDescription(131026), "undeliverable") {
		t.Fatal("131047/131026 descriptions must follow Meta's meanings")
	}
	if ClassRetryLaterForRecipient.String() != "retry_later_for_recipient" {
		t.Fatal(ClassRetryLaterForRecipient.String())
	}
}

func TestMediaClient(t *testing.T) {
	t.Parallel()
	f := newFakeGraph(t, fakeAnswer{200, `{"id":"1037543291543636"}`})
	c, _ := newTestClient(t, f.srv.URL, Options{MaxDownloadBytes: 10})
	ctx := context.Background()
	id, err := c.UploadMedia(ctx, "1", "facture.pdf", "application/pdf", strings.NewReader("%PDF-1.4"))
	if err != nil || id != "1037543291543636" {
		t.Fatalf("UploadMedia = %q, %v", id, err)
	}
	r := f.requests[0]
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") || !bytes.Contains(f.bodies[0], []byte(`name="messaging_product"`)) ||
		!bytes.Contains(f.bodies[0], []byte(`filename="facture.pdf"`)) || !bytes.Contains(f.bodies[0], []byte("Content-Type: application/pdf")) {
		t.Fatalf("upload body %s", f.bodies[0])
	}
	for _, tc := range []struct {
		mime string
		size int
	}{{"image/gif", 1}, {"image/jpeg", 5<<20 + 1}, {"image/webp", 500<<10 + 1}, {"audio/ogg", 16<<20 + 1}, {"application/pdf", 0}} {
		if _, err := c.UploadMedia(ctx, "1", "f", tc.mime, bytes.NewReader(make([]byte, tc.size))); Classify(err) != ClassInvalidRequest {
			t.Errorf("upload %s of %d bytes: %v", tc.mime, tc.size, err)
		}
	}
	if kind, limit, ok := MediaLimit("audio/ogg; codecs=opus"); !ok || kind != MediaAudio || limit != 16<<20 {
		t.Fatal("MediaLimit with parameters")
	}

	dl := newFakeGraph(t, fakeAnswer{200, `0123456789ABCDEF`})
	if _, _, err := c.DownloadMedia(ctx, dl.srv.URL+"/x"); err == nil {
		t.Fatal("token sent to a host that is neither Meta's nor BaseURL's")
	}
	c2, _ := newTestClient(t, dl.srv.URL, Options{MaxDownloadBytes: 10})
	if _, _, err := c2.DownloadMedia(ctx, dl.srv.URL+"/x"); err == nil || !strings.Contains(err.Error(), "larger than 10") {
		t.Fatalf("download over the cap: %v", err)
	}
	for _, u := range []string{"https://lookaside.fbsbx.com/x", "https://scontent.whatsapp.net/x"} {
		if !c.trustedHost(mustParse(t, u)) {
			t.Errorf("%s not trusted", u)
		}
	}
	if c.trustedHost(mustParse(t, "https://fbsbx.com.evil.example/x")) || c.trustedHost(mustParse(t, "http://lookaside.fbsbx.com/x")) {
		t.Error("look-alike or plain-http host trusted")
	}
}

func TestListTemplatesPaging(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "PRI" {
			return // the client's h2c probe
		}
		calls.Add(1)
		switch r.URL.Query().Get("after") {
		case "":
			io.WriteString(w, `{"data":[{"id":"1","name":"a","language":"fr","status":"APPROVED","category":"UTILITY","components":[{"type":"BODY","text":"Bonjour {{1}}"}]}],"paging":{"cursors":{"before":"b0","after":"c1"},"next":"https://evil.example/steal"}}`)
		case "c1":
			io.WriteString(w, `{"data":[{"id":"2","name":"b","language":"en","status":"PAUSED","category":"MARKETING","components":[]}],"paging":{"cursors":{"before":"c1","after":"c2"}}}`)
		default:
			t.Errorf("unexpected cursor %q", r.URL.Query().Get("after"))
		}
	}))
	t.Cleanup(srv.Close)
	c, _ := newTestClient(t, srv.URL, Options{})
	ts, err := c.ListTemplates(context.Background(), "102290129340398")
	if err != nil || len(ts) != 2 || ts[0].Components[0].Text != "Bonjour {{1}}" || ts[1].Status != "PAUSED" || calls.Load() != 2 {
		t.Fatalf("ListTemplates = %+v, %v after %d calls", ts, err, calls.Load())
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestNewClientOptions(t *testing.T) {
	t.Parallel()
	if _, err := NewClient(Options{}); err == nil {
		t.Fatal("no token accepted")
	}
	if _, err := NewClient(Options{AccessToken: "x", BaseURL: "graph.facebook.com"}); err == nil {
		t.Fatal("relative BaseURL accepted")
	}
	c, err := NewClient(Options{AccessToken: "x"})
	if err != nil || c.base != DefaultBaseURL {
		t.Fatal(err)
	}
}

func TestMarkRead(t *testing.T) {
	t.Parallel()
	f := newFakeGraph(t, fakeAnswer{200, `{"success":true}`})
	c, _ := newTestClient(t, f.srv.URL, Options{})
	if err := c.MarkRead(context.Background(), "1", "wamid.IN"); err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = json.Unmarshal(f.bodies[0], &body)
	if len(body) != 3 || body["status"] != "read" || body["message_id"] != "wamid.IN" || body["messaging_product"] != "whatsapp" {
		t.Fatalf("mark read body %s", f.bodies[0])
	}
	if err := c.MarkRead(context.Background(), "1", ""); Classify(err) != ClassInvalidRequest {
		t.Fatal(err)
	}
}

// BenchmarkClientSend measures the client alone against a static answer.
func BenchmarkClientSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, okSend)
	}))
	defer srv.Close()
	hc := NewHTTPClient()
	defer hc.CloseIdleConnections()
	c, _ := NewClient(Options{BaseURL: srv.URL, AccessToken: secretToken, HTTPClient: hc, RatePerSecond: 1e6, Burst: 1e6})
	msg := ButtonsMessage(to, "Votre commande S00042 est enregistrée.", ButtonReply{ID: "btn_validate_order_42", Title: "Valider"})
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Send(context.Background(), "1", msg); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// A Meta that accepts a request and never answers does not hold a send forever,
// even when the caller's context has no deadline: the attempt ends, its outcome
// unknown (the request was written).
func TestRequestTimeoutEndsAHungAttempt(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/messages") {
			http.NotFound(w, r) // the client's h2c probe
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	c, _ := newTestClient(t, srv.URL+"/v21.0", Options{RequestTimeout: 50 * time.Millisecond, Retry: RetryPolicy{MaxAttempts: 1}})
	_, err := c.Send(context.Background(), "106540352242922", TextMessage(to, "Bonjour"))
	if !errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("send to a Meta that never answers: %v, want an outcome unknown", err)
	}
}
