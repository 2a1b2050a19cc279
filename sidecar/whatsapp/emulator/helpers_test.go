package emulator_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	testToken  = "EAAtesttokenNEVERLOG0123456789"
	testSecret = "app-secret-for-tests"
	phoneID    = emulator.DefaultPhoneNumberID
	userWaID   = "16505551234"
)

// webhook is one delivery received by the test receiver.
type webhook struct {
	raw       []byte
	signature string
	payload   whatsapp.WebhookPayload
}

// receiver is the test's webhook endpoint; it checks every signature.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	ch     chan webhook
	failN  atomic.Int64 // answer 500 to this many deliveries
	badSig atomic.Int64
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{t: t, ch: make(chan webhook, 1024)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if !whatsapp.VerifySignature([]byte(testSecret), body, req.Header.Get(whatsapp.SignatureHeader)) {
			r.badSig.Add(1)
			http.Error(w, "bad signature", http.StatusBadRequest)
			return
		}
		if n := r.failN.Load(); n > 0 && r.failN.CompareAndSwap(n, n-1) {
			http.Error(w, "try again", http.StatusInternalServerError)
			return
		}
		var p whatsapp.WebhookPayload
		if err := json.Unmarshal(body, &p); err != nil {
			t.Errorf("webhook body is not a payload: %v", err)
		}
		r.ch <- webhook{raw: body, signature: req.Header.Get(whatsapp.SignatureHeader), payload: p}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// next waits for the next webhook (the timeout only guards a hung test).
func (r *receiver) next(t *testing.T) webhook {
	t.Helper()
	select {
	case w := <-r.ch:
		return w
	case <-time.After(15 * time.Second):
		t.Fatal("no webhook received")
		return webhook{}
	}
}

type bundle struct {
	srv    *emulator.Server
	client *whatsapp.Client
	hooks  *receiver
}

// setup starts an emulator on 127.0.0.1:0 with a webhook receiver and a
// client without retries.
func setup(t *testing.T, knobs emulator.Knobs, opts ...func(*emulator.Config, *whatsapp.Options)) *bundle {
	t.Helper()
	hooks := newReceiver(t)
	cfg := emulator.Config{AccessToken: testToken, AppSecret: testSecret, WebhookURL: hooks.srv.URL, Knobs: knobs}
	copts := whatsapp.Options{AccessToken: testToken, RatePerSecond: 100_000, Retry: whatsapp.RetryPolicy{MaxAttempts: 1}}
	for _, o := range opts {
		o(&cfg, &copts)
	}
	srv := emulator.New(cfg)
	if err := srv.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	copts.BaseURL = srv.BaseURL()
	if copts.HTTPClient == nil {
		copts.HTTPClient = whatsapp.NewHTTPClient()
	}
	t.Cleanup(copts.HTTPClient.CloseIdleConnections)
	client, err := whatsapp.NewClient(copts)
	if err != nil {
		t.Fatal(err)
	}
	return &bundle{srv: srv, client: client, hooks: hooks}
}

func mustReadMeta(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "meta", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustJSON(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	return v
}

// shape describes a JSON value by its keys and value kinds, not its values:
// arrays by their first element. Two documents of the same shape have the
// same fields, nested the same way.
func shape(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = shape(e)
		}
		return m
	case []any:
		if len(x) == 0 {
			return []any{}
		}
		return []any{shape(x[0])}
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case nil:
		return "null"
	}
	return "?"
}

// assertSameShape fails when got and the documented example differ in keys
// or value kinds.
func assertSameShape(t *testing.T, doc string, got []byte) {
	t.Helper()
	want := shape(mustJSON(t, mustReadMeta(t, doc)))
	have := shape(mustJSON(t, got))
	if !reflect.DeepEqual(want, have) {
		wj, _ := json.Marshal(want)
		hj, _ := json.Marshal(have)
		t.Errorf("shape differs from %s\n doc: %s\n got: %s", doc, wj, hj)
	}
}

func lastRequest(t *testing.T, srv *emulator.Server, pathSuffix string) emulator.RecordedRequest {
	t.Helper()
	reqs := srv.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if strings.HasSuffix(reqs[i].Path, pathSuffix) {
			return reqs[i]
		}
	}
	t.Fatalf("no request to %s recorded", pathSuffix)
	return emulator.RecordedRequest{}
}

func statusesOf(w webhook) []whatsapp.Status {
	var out []whatsapp.Status
	for _, e := range w.payload.Entry {
		for _, c := range e.Changes {
			out = append(out, c.Value.Statuses...)
		}
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
