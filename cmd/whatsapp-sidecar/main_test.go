package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/sethvargo/go-envconfig"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
)

func TestMain(m *testing.M) {
	// The crash test runs this test binary as the sidecar, to kill it with SIGKILL.
	if os.Getenv("WHATSAPP_SIDECAR_TEST_AS_MAIN") == "1" {
		main()
		return
	}
	pgtest.Main(m)
}

func TestMigrateThenUninstallTwice(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, pgtest.Odoo)
	env := envconfig.MapLookuper(map[string]string{"DATABASE_URL": db.URL})
	for round := 1; round <= 2; round++ {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), []string{"migrate"}, env, &out, &errOut); code != 0 {
			t.Fatalf("round %d: migrate exit %d: %s", round, code, errOut.String())
		}
		if !strings.Contains(out.String(), "applied migration") {
			t.Errorf("round %d: migrate printed %q, want what it applied", round, out.String())
		}
		out.Reset()
		if code := run(context.Background(), []string{"uninstall", "--drop-data"}, env, &out, &errOut); code != 0 {
			t.Fatalf("round %d: uninstall exit %d: %s", round, code, errOut.String())
		}
		if !strings.Contains(out.String(), "dropped schema whatsapp_sidecar") {
			t.Errorf("round %d: uninstall printed %q", round, out.String())
		}
	}
}

func TestCommandErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args     []string
		env      map[string]string
		wantCode int
		wantErr  string
	}{
		{nil, nil, 2, "usage: whatsapp-sidecar"},
		{[]string{"frobnicate"}, nil, 2, `unknown command "frobnicate"`},
		{[]string{"migrate"}, nil, 1, "DATABASE_URL"},
		{[]string{"uninstall", "--drop-everything"}, nil, 2, "flag provided but not defined"},
		{[]string{"run"}, map[string]string{"DATABASE_URL": "postgres://x@127.0.0.1:1/x", "LOG_LEVEL": "chatty"}, 1, "LOG_LEVEL"},
	}
	for _, c := range cases {
		var out, errOut bytes.Buffer
		code := run(context.Background(), c.args, envconfig.MapLookuper(c.env), &out, &errOut)
		if code != c.wantCode || !strings.Contains(errOut.String(), c.wantErr) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", c.args, code, errOut.String(), c.wantCode, c.wantErr)
		}
	}
}

func TestRunRefusesAnUnmigratedDatabase(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, pgtest.Odoo)
	var errOut bytes.Buffer
	code := run(context.Background(), []string{"run"}, envconfig.MapLookuper(map[string]string{
		"DATABASE_URL": db.URL, "WEBHOOK_ADDR": "127.0.0.1:0", "METRICS_ADDR": "127.0.0.1:0",
	}), io.Discard, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "whatsapp-sidecar migrate") {
		t.Errorf("exit %d, stderr %q; want 1 and a hint to migrate", code, errOut.String())
	}
}

// run serves health, readiness and metrics on its own listener and stops cleanly on
// cancellation (SIGTERM in production).
func TestRunServesOpsEndpointsAndStops(t *testing.T) {
	db := pgtest.NewDB(t, pgtest.Sidecar)
	logs := newLogWatcher()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var code int
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		code = run(ctx, []string{"run"}, envconfig.MapLookuper(map[string]string{
			"DATABASE_URL": db.URL, "WEBHOOK_ADDR": "127.0.0.1:0", "METRICS_ADDR": "127.0.0.1:0", "LOG_FORMAT": "json",
			"WHATSAPP_ACCESS_TOKEN": "tok", "WHATSAPP_PHONE_NUMBER_ID": "1065",
		}), io.Discard, logs)
	}()
	var metricsAddr string
	select {
	case metricsAddr = <-logs.listening("metrics"):
	case <-exited:
		t.Fatalf("run exited %d before listening; logs:\n%s", code, logs)
	}
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + metricsAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for path, want := range map[string]string{"/healthz": "ok", "/metrics": "whatsapp_sidecar_build_info"} {
		if code, body := get(path); code != 200 || !strings.Contains(body, want) {
			t.Errorf("GET %s: %d %q, want 200 containing %q", path, code, body, want)
		}
	}
	// Ready once LISTEN is in place: a moment after the listeners are bound.
	pgtest.Eventually(t, "/readyz to answer 200", func() bool {
		code, body := get("/readyz")
		return code == 200 && strings.Contains(body, "schema: ok") && strings.Contains(body, "listener: ok")
	})
	cancel()
	<-exited
	if code != 0 {
		t.Errorf("run exited %d after cancellation; logs:\n%s", code, logs)
	}
}

// logWatcher is run's stderr in a test: it keeps the JSON log lines and hands out
// the address each listener logs when it is bound.
type logWatcher struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	addrs map[string]chan string
}

func newLogWatcher() *logWatcher {
	return &logWatcher{addrs: map[string]chan string{"metrics": make(chan string, 1), "webhook": make(chan string, 1)}}
}

func (w *logWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for _, line := range bytes.Split(p, []byte("\n")) {
		var rec struct{ Msg, Listener, Addr string }
		if json.Unmarshal(line, &rec) == nil && rec.Msg == "listening" {
			if ch, ok := w.addrs[rec.Listener]; ok {
				select {
				case ch <- rec.Addr:
				default:
				}
			}
		}
	}
	return len(p), nil
}

func (w *logWatcher) listening(name string) <-chan string { return w.addrs[name] }

func (w *logWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
