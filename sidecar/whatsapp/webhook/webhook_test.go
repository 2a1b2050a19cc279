package webhook_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/accounts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/config"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/listen"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/webhook"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	secretA = "app-secret-of-config-a"
	secretB = "app-secret-of-config-b"
	envSec  = "app-secret-from-environment"
)

// fixture reads one of Meta's documented payloads (testdata/meta, sources in its README).
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	root, err := pgtest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "testdata", "meta", "webhooks", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type bundle struct {
	db      *pgtest.DB
	srv     *httptest.Server
	bell    listen.Bell
	metrics *webhook.Metrics
	reg     *prometheus.Registry
}

// setup serves the handler for two active configs (secrets A and B, verify tokens
// "verify-a" and "verify-b") and the environment's secret, over a real inbox.
func setup(t *testing.T, maxBody int64) *bundle {
	t.Helper()
	ctx := context.Background()
	db := pgtest.NewDB(t, pgtest.Sidecar)
	db.Exec(t, `INSERT INTO whatsapp_config (name, phone_number_id, facebook_app_secret, verify_token, is_active)
		VALUES ('A', '111', $1, 'verify-a', true), ('B', '222', $2, 'verify-b', true), ('Old', '333', 'inactive-secret', 'verify-old', false)`,
		secretA, secretB)
	accs := accounts.New(accounts.Options{})
	if err := accs.Load(ctx, db.Pool(t)); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	b := &bundle{db: db, bell: listen.NewBell(), metrics: webhook.NewMetrics(reg), reg: reg}
	h := &webhook.Handler{
		Inbox:        &webhook.PoolInbox{Pool: db.Pool(t)},
		Secrets:      webhook.AccountSecrets{Accounts: accs, Env: config.WhatsApp{AppSecret: envSec}},
		Bell:         b.bell,
		MaxBodyBytes: maxBody,
		Metrics:      b.metrics,
	}
	mux := http.NewServeMux()
	h.Handle(mux)
	b.srv = httptest.NewServer(mux)
	t.Cleanup(b.srv.Close)
	return b
}

func (b *bundle) post(t *testing.T, body []byte, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.srv.URL+webhook.Path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := b.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func (b *bundle) stored(t *testing.T) (count int, body []byte, signature string) {
	t.Helper()
	b.db.QueryRow(t, []any{&count}, `SELECT count(*) FROM whatsapp_sidecar.inbox`)
	if count > 0 {
		b.db.QueryRow(t, []any{&body, &signature}, `SELECT body, signature FROM whatsapp_sidecar.inbox ORDER BY id DESC LIMIT 1`)
	}
	return count, body, signature
}

func signed(secret string, body []byte) http.Header {
	return http.Header{whatsapp.SignatureHeader: {whatsapp.Sign([]byte(secret), body)}}
}

// Every delivery Meta signs with any active config's secret (or the environment's)
// is stored byte for byte and answered 200; everything else is refused with the
// documented status, nothing is stored, and the outcome is counted.
func TestIntake(t *testing.T) {
	t.Parallel()
	status := fixture(t, "status_delivered.json")
	big := append([]byte(`{"object":"whatsapp_business_account","entry":[],"pad":"`), bytes.Repeat([]byte("x"), 4096)...)
	big = append(big, `"}`...)
	cases := []struct {
		name    string
		body    []byte
		header  http.Header
		want    int
		outcome string
	}{
		{"signed by config A", status, signed(secretA, status), 200, webhook.OutcomeAccepted},
		{"signed by config B", status, signed(secretB, status), 200, webhook.OutcomeAccepted},
		{"signed by the environment's secret", status, signed(envSec, status), 200, webhook.OutcomeAccepted},
		{"unsigned", status, nil, 403, webhook.OutcomeUnsigned},
		{"signed by an inactive config", status, signed("inactive-secret", status), 403, webhook.OutcomeBadSignature},
		{"forged", status, signed("not-our-secret", status), 403, webhook.OutcomeBadSignature},
		{"signature without prefix", status, http.Header{whatsapp.SignatureHeader: {strings.TrimPrefix(whatsapp.Sign([]byte(secretA), status), "sha256=")}}, 403, webhook.OutcomeBadSignature},
		{"signature in upper case hex", status, http.Header{whatsapp.SignatureHeader: {"sha256=" + strings.ToUpper(strings.TrimPrefix(whatsapp.Sign([]byte(secretA), status), "sha256="))}}, 200, webhook.OutcomeAccepted},
		{"truncated after signing", status[:len(status)/2], signed(secretA, status), 403, webhook.OutcomeBadSignature},
		{"one byte changed after signing", append([]byte{' '}, status[1:]...), signed(secretA, status), 403, webhook.OutcomeBadSignature},
		{"signed but not JSON", []byte("hello"), signed(secretA, []byte("hello")), 400, webhook.OutcomeBadJSON},
		{"signed truncated JSON", status[:100], signed(secretA, status[:100]), 400, webhook.OutcomeBadJSON},
		{"signed JSON array", []byte(`[1,2]`), signed(secretA, []byte(`[1,2]`)), 400, webhook.OutcomeBadJSON},
		{"empty body", nil, signed(secretA, nil), 400, webhook.OutcomeBadJSON},
		{"over the size limit", big, signed(secretA, big), 413, webhook.OutcomeTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, 4096)
			resp := b.post(t, c.body, c.header)
			if resp.StatusCode != c.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.want)
			}
			n, body, sig := b.stored(t)
			if c.want != 200 {
				if n != 0 {
					t.Errorf("a refused delivery was stored")
				}
			} else {
				if n != 1 || !bytes.Equal(body, c.body) || sig != c.header.Get(whatsapp.SignatureHeader) {
					t.Errorf("stored %d deliveries, body equal %v, signature %q", n, bytes.Equal(body, c.body), sig)
				}
				select {
				case <-b.bell:
				default:
					t.Error("the processor's bell was not rung")
				}
			}
			if got := requests(t, b, c.outcome); got != 1 {
				t.Errorf("whatsapp_webhook_requests_total{outcome=%q} = %v, want 1", c.outcome, got)
			}
		})
	}
}

// requests is whatsapp_webhook_requests_total{outcome}.
func requests(t *testing.T, b *bundle, outcome string) float64 {
	t.Helper()
	return counter(t, b.reg, outcome)
}

// Meta's verification handshake: the challenge comes back as plain text for any
// active config's verify token, and nothing else passes.
func TestVerification(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	cases := []struct {
		name, query string
		want        int
		body        string
	}{
		{"config A's token", "hub.mode=subscribe&hub.verify_token=verify-a&hub.challenge=1158201444", 200, "1158201444"},
		{"config B's token", "hub.mode=subscribe&hub.verify_token=verify-b&hub.challenge=42", 200, "42"},
		{"inactive config's token", "hub.mode=subscribe&hub.verify_token=verify-old&hub.challenge=42", 403, ""},
		{"wrong token", "hub.mode=subscribe&hub.verify_token=nope&hub.challenge=42", 403, ""},
		{"wrong mode", "hub.mode=unsubscribe&hub.verify_token=verify-a&hub.challenge=42", 403, ""},
		{"no token", "hub.mode=subscribe&hub.challenge=42", 403, ""},
		{"nothing", "", 403, ""},
	}
	for _, c := range cases {
		resp, err := b.srv.Client().Get(b.srv.URL + webhook.Path + "?" + c.query)
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		_, _ = body.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want || (c.want == 200 && (body.String() != c.body || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain"))) {
			t.Errorf("%s: %d %q (%s), want %d %q", c.name, resp.StatusCode, body.String(), resp.Header.Get("Content-Type"), c.want, c.body)
		}
	}
	if got := requests(t, b, webhook.OutcomeVerifyOK); got != 2 {
		t.Errorf("verify_ok = %v, want 2", got)
	}
	if got := requests(t, b, webhook.OutcomeVerifyFailed); got != 5 {
		t.Errorf("verify_failed = %v, want 5", got)
	}
}

// The environment's verify token works even with no whatsapp_config row at all.
func TestVerificationFromEnvironment(t *testing.T) {
	t.Parallel()
	h := &webhook.Handler{Inbox: failingInbox{}, Secrets: webhook.AccountSecrets{Env: config.WhatsApp{VerifyToken: "env-verify"}}}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, webhook.Path+"?hub.mode=subscribe&hub.verify_token=env-verify&hub.challenge=7", nil))
	if rec.Code != 200 || rec.Body.String() != "7" {
		t.Errorf("got %d %q", rec.Code, rec.Body.String())
	}
}

type failingInbox struct{}

func (failingInbox) Store(context.Context, []byte, string) error { return context.DeadlineExceeded }

// A delivery that cannot be stored is not acknowledged: Meta gets a 503 and retries.
func TestStoreFailureIsNotAcknowledged(t *testing.T) {
	t.Parallel()
	body := fixture(t, "status_read.json")
	h := &webhook.Handler{Inbox: failingInbox{}, Secrets: webhook.AccountSecrets{Env: config.WhatsApp{AppSecret: envSec}}}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, webhook.Path, bytes.NewReader(body))
	req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign([]byte(envSec), body))
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", rec.Code)
	}
}

// With no app secret anywhere nothing can be verified: deliveries are refused (Meta
// keeps them for days) rather than accepted unverified, as the seed did.
func TestNoSecretRefusesDeliveries(t *testing.T) {
	t.Parallel()
	body := fixture(t, "status_read.json")
	h := &webhook.Handler{Inbox: failingInbox{}, Secrets: webhook.AccountSecrets{}}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, webhook.Path, bytes.NewReader(body))
	req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign([]byte(""), body))
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", rec.Code)
	}
}

// A handler missing its inbox or secrets refuses, and never panics.
func TestUnconfiguredHandlerRefuses(t *testing.T) {
	t.Parallel()
	body := fixture(t, "status_read.json")
	for _, h := range []*webhook.Handler{{}, {Secrets: webhook.AccountSecrets{Env: config.WhatsApp{AppSecret: envSec}}}} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, webhook.Path, bytes.NewReader(body))
		req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign([]byte(envSec), body))
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("status %d, want 503", rec.Code)
		}
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, webhook.Path+"?hub.mode=subscribe&hub.verify_token=x&hub.challenge=1", nil))
		if rec.Code != http.StatusForbidden {
			t.Errorf("verification status %d, want 403", rec.Code)
		}
	}
}
