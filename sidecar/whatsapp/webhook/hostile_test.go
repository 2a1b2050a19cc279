package webhook_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/config"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/webhook"
)

// recordingBody is a request body that records whether anyone read it.
type recordingBody struct{ read atomic.Bool }

func (b *recordingBody) Read(p []byte) (int, error) {
	b.read.Store(true)
	return 0, io.EOF
}

func (b *recordingBody) Close() error { return nil }

// An unsigned POST is refused before its body is read, however large it claims
// to be and whether or not its length is announced.
func TestUnsignedBodyIsNeverRead(t *testing.T) {
	t.Parallel()
	for _, length := range []int64{-1, 100, 1 << 40} {
		reg := prometheus.NewRegistry()
		h := &webhook.Handler{Inbox: &memInbox{}, Secrets: webhook.AccountSecrets{Env: config.WhatsApp{AppSecret: envSec}},
			Metrics: webhook.NewMetrics(reg)}
		body := &recordingBody{}
		req := httptest.NewRequest(http.MethodPost, webhook.Path, nil)
		req.Body, req.ContentLength = body, length
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusForbidden {
			t.Errorf("length %d: status %d, want 403", length, rec.Code)
		}
		if body.read.Load() {
			t.Errorf("length %d: the unsigned body was read", length)
		}
		if got := counter(t, reg, webhook.OutcomeUnsigned); got != 1 {
			t.Errorf("length %d: unsigned = %v, want 1", length, got)
		}
	}
}

// Over real HTTP: a client that offers a body only once the server asks for it
// (Expect: 100-continue) gets its 403 without ever being asked.
func TestUnsignedBodyIsNeverRequested(t *testing.T) {
	t.Parallel()
	h := &webhook.Handler{Inbox: &memInbox{}, Secrets: webhook.AccountSecrets{Env: config.WhatsApp{AppSecret: envSec}}}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	// The timeout only has to outlast the server's answer: the client waits for
	// either a 100 Continue or a final status, whichever comes.
	transport := &http.Transport{ExpectContinueTimeout: time.Hour}
	t.Cleanup(transport.CloseIdleConnections)
	body := &recordingBody{}
	req, err := http.NewRequest(http.MethodPost, srv.URL+webhook.Path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = 3 << 20
	req.Header.Set("Expect", "100-continue")
	resp, err := (&http.Client{Transport: transport}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("status %d, want 403", resp.StatusCode)
	}
	if body.read.Load() {
		t.Error("the server asked for the unsigned body")
	}
}

// gateInbox holds every Store until open is closed, saying when one has begun.
type gateInbox struct {
	memInbox
	entered chan struct{}
	open    chan struct{}
}

func (g *gateInbox) Store(ctx context.Context, body []byte, signature string) error {
	g.entered <- struct{}{}
	<-g.open
	return g.memInbox.Store(ctx, body, signature)
}

// With every read slot taken, a delivery waits ReadWait, then gets a 503 with
// Retry-After (Meta retries) and its body is not read; once the slot is free the
// next delivery is stored.
func TestBusyIntakeAnswers503(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	inbox := &gateInbox{entered: make(chan struct{}, 1), open: make(chan struct{})}
	h := &webhook.Handler{Inbox: inbox, Secrets: webhook.AccountSecrets{Env: config.WhatsApp{AppSecret: envSec}},
		MaxConcurrentReads: 1, ReadWait: time.Millisecond, Metrics: webhook.NewMetrics(reg)}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	body := fixture(t, "status_read.json")
	// Deliveries offer their body on request (Expect: 100-continue), so whether
	// the server read one shows at the client.
	transport := &http.Transport{ExpectContinueTimeout: time.Hour}
	t.Cleanup(transport.CloseIdleConnections)
	post := func(b io.Reader) (*http.Response, error) {
		req, err := http.NewRequest(http.MethodPost, srv.URL+webhook.Path, b)
		if err != nil {
			return nil, err
		}
		req.ContentLength = int64(len(body))
		req.Header.Set("Expect", "100-continue")
		req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign([]byte(envSec), body))
		resp, err := (&http.Client{Transport: transport}).Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return resp, err
	}

	first := make(chan int, 1)
	go func() {
		resp, err := post(bytes.NewReader(body))
		if err != nil {
			t.Error(err)
			first <- 0
			return
		}
		first <- resp.StatusCode
	}()
	<-inbox.entered // the first delivery holds the only slot until the gate opens

	waiting := &recordingBody{}
	resp, err := post(waiting)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("beyond the bound: status %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if waiting.read.Load() {
		t.Error("the body of a delivery refused as busy was read")
	}

	close(inbox.open)
	if code := <-first; code != http.StatusOK {
		t.Errorf("the delivery holding the slot: status %d, want 200", code)
	}
	if resp, err := post(bytes.NewReader(body)); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("after the slot was freed: %v %v, want 200", resp, err)
	}
	if got := counter(t, reg, webhook.OutcomeBusy); got != 1 {
		t.Errorf("busy = %v, want 1", got)
	}
	if len(inbox.bodies) != 2 {
		t.Errorf("%d deliveries stored, want 2", len(inbox.bodies))
	}
}

// A burst of 10,000 signed deliveries from 200 concurrent senders, each retrying
// a 503 or a dropped connection as Meta does, ends with every delivery stored
// exactly once in whatsapp_sidecar.inbox: with the default read bound, and with
// one so tight that most attempts are refused as busy.
func TestBurstIsStoredExactlyOnce(t *testing.T) {
	t.Parallel()
	t.Run("DefaultBound", func(t *testing.T) {
		t.Parallel()
		burst(t, &webhook.Handler{})
	})
	t.Run("TightBound", func(t *testing.T) {
		t.Parallel()
		burst(t, &webhook.Handler{MaxConcurrentReads: 32, ReadWait: 20 * time.Millisecond})
	})
}

func burst(t *testing.T, h *webhook.Handler) {
	// Meta retries for days; the bound here only stops a broken intake from
	// spinning forever.
	const deliveries, senders, maxAttempts = 10_000, 200, 100_000
	db := pgtest.NewDB(t, pgtest.Sidecar)
	reg := prometheus.NewRegistry()
	h.Inbox = &webhook.PoolInbox{Pool: db.Pool(t)}
	h.Secrets = webhook.AccountSecrets{Env: config.WhatsApp{AppSecret: envSec}}
	h.Metrics = webhook.NewMetrics(reg)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	transport := &http.Transport{MaxIdleConns: senders, MaxIdleConnsPerHost: senders}
	t.Cleanup(transport.CloseIdleConnections)
	client := &http.Client{Transport: transport}

	send := func(n int) (retries int, err error) {
		body := fmt.Appendf(nil, `{"object":"whatsapp_business_account","entry":[{"id":"burst","changes":[{"field":"messages","value":{"n":%d}}]}]}`, n)
		signature := whatsapp.Sign([]byte(envSec), body)
		for attempt := range maxAttempts {
			req, err := http.NewRequest(http.MethodPost, srv.URL+webhook.Path, bytes.NewReader(body))
			if err != nil {
				return attempt, err
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(whatsapp.SignatureHeader, signature)
			resp, err := client.Do(req)
			if err != nil {
				continue // Meta retries a delivery whose connection failed
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusOK:
				return attempt, nil
			case http.StatusServiceUnavailable:
				continue
			default:
				return attempt, fmt.Errorf("delivery %d: status %d", n, resp.StatusCode)
			}
		}
		return maxAttempts, fmt.Errorf("delivery %d: not accepted after %d attempts", n, maxAttempts)
	}

	next := make(chan int)
	var retried atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for range senders {
		wg.Go(func() {
			for n := range next {
				retries, err := send(n)
				retried.Add(int64(retries))
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
feed:
	for n := range deliveries {
		select {
		case next <- n:
		case err := <-errs:
			t.Error(err)
			break feed
		}
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}

	var stored, distinct int
	db.QueryRow(t, []any{&stored, &distinct}, `SELECT count(*), count(DISTINCT body) FROM whatsapp_sidecar.inbox`)
	if stored != deliveries || distinct != deliveries {
		t.Errorf("%d rows, %d distinct deliveries stored; want %d of each", stored, distinct, deliveries)
	}
	if got := counter(t, reg, webhook.OutcomeAccepted); got != deliveries {
		t.Errorf("accepted = %v, want %d", got, deliveries)
	}
	if busy := counter(t, reg, webhook.OutcomeBusy); int64(busy) > retried.Load() {
		t.Errorf("%v busy answers but only %d retries", busy, retried.Load())
	}
	t.Logf("%d deliveries, %d retries (busy: %v)", deliveries, retried.Load(), counter(t, reg, webhook.OutcomeBusy))
}

// counter is whatsapp_webhook_requests_total{outcome} in reg.
func counter(t *testing.T, reg *prometheus.Registry, outcome string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "whatsapp_webhook_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no whatsapp_webhook_requests_total{outcome=%q}", outcome)
	return 0
}
