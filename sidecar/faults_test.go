package sidecar_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sethvargo/go-envconfig"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgcluster"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgdump"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/install"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/config"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator/emulatortest"
)

// syncBuffer is a log a test can read while the daemon writes it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// daemonOn starts a daemon on the database at dbURL, with env on top of the test
// defaults; it is stopped when the test ends (unless the test stops it first).
func daemonOn(t *testing.T, dbURL string, env map[string]string, logs io.Writer) *sidecar.Daemon {
	t.Helper()
	return daemonServing(t, dbURL, env, logs, nil)
}

// daemonServing is daemonOn serving listeners the test bound (by name: "webhook").
func daemonServing(t *testing.T, dbURL string, env map[string]string, logs io.Writer, listeners map[string]net.Listener) *sidecar.Daemon {
	t.Helper()
	all := map[string]string{"DATABASE_URL": dbURL, "WEBHOOK_ADDR": "127.0.0.1:0", "METRICS_ADDR": "127.0.0.1:0", "SHUTDOWN_TIMEOUT": "20s"}
	for k, v := range env {
		all[k] = v
	}
	cfg, err := config.Load(context.Background(), envconfig.MapLookuper(all))
	if err != nil {
		t.Fatal(err)
	}
	if logs == nil {
		logs = io.Discard
	}
	d, err := sidecar.New(sidecar.Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Listeners: listeners})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Stop(context.Background()) })
	<-d.Ready()
	return d
}

func readyz(t *testing.T, d *sidecar.Daemon) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + d.MetricsAddr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func bodiesAt(emu *emulator.Server) map[string]int {
	seen := map[string]int{}
	for _, r := range emu.Requests() {
		var req whatsapp.SendRequest
		if strings.HasSuffix(r.Path, "/messages") && r.Status == 200 && json.Unmarshal(r.Body, &req) == nil && req.Text != nil {
			seen[req.Text.Body]++
		}
	}
	return seen
}

// PostgreSQL itself restarted in the middle of a burst (an immediate stop, as a
// crash or a failover does, on a throwaway cluster this test owns): the sidecar
// recovers alone, and every message reaches Meta exactly once.
func TestDatabaseRestartMidBurst(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts its own PostgreSQL")
	}
	ctx := context.Background()
	cluster, err := pgcluster.Start(ctx)
	if err != nil {
		t.Skipf("no PostgreSQL binaries to start a cluster of this test's own: %v", err)
	}
	t.Cleanup(cluster.Stop)
	schema, err := pgtest.OdooFile("schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	dbURL, err := pgdump.CreateDatabase(ctx, cluster.URL(), "restart", filepath.Dir(schema))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := install.Migrate(ctx, conn); err != nil {
		t.Fatal(err)
	}
	const total = 3000
	for _, q := range []string{
		`INSERT INTO whatsapp_config (name, phone_number_id, access_token, facebook_app_secret, company_id, default_country_code,
			rate_limit_per_second) VALUES ('Boutique', '1065', 'tok', 'app-secret', 1, 'SN', 1000)`,
		`INSERT INTO whatsapp_message (phone, content)
			SELECT '+22177' || lpad(g::text, 7, '0'), 'restart ' || g FROM generate_series(1, 3000) g`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close(ctx)

	// The emulator needs the webhook's address before the daemon starts: the test
	// binds it and hands it over (a port closed and bound again can be taken).
	webhook, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	emu := emulatortest.Start(t, emulator.Config{AccessToken: "tok", AppSecret: "app-secret",
		WebhookURL: "http://" + webhook.Addr().String() + "/whatsapp/webhook",
		Knobs: emulator.Knobs{Latency: 20 * time.Millisecond, StopAt: "sent", WebhookMaxAttempts: 1_000_000,
			WebhookRetryDelay: 50 * time.Millisecond, WebhookRetryMaxDelay: 500 * time.Millisecond}})
	daemonServing(t, dbURL, map[string]string{"WHATSAPP_API_URL": emu.BaseURL(), "UNKNOWN_RESEND_AFTER": "never"}, nil,
		map[string]net.Listener{"webhook": webhook})
	pgtest.Eventually(t, "a third of the burst at Meta", func() bool { return emulatortest.Accepted(emu) >= total/3 })
	if err := cluster.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	atRestart := emulatortest.Accepted(emu)
	if atRestart >= total {
		t.Fatal("the whole burst was sent before the restart: the test tests nothing")
	}

	count := func(query string) int {
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			return -1 // the sidecar recovers alone; the test only reads
		}
		defer conn.Close(ctx)
		var n int
		if err := conn.QueryRow(ctx, query).Scan(&n); err != nil {
			return -1
		}
		return n
	}
	settled := func() bool {
		return count(`SELECT count(*) FROM whatsapp_message WHERE status IN ('queued', 'sending')`) == 0 &&
			emu.PendingWebhooks() == 0 && count(`SELECT count(*) FROM whatsapp_sidecar.inbox WHERE processed_at IS NULL`) == 0
	}
	pgtest.Eventually(t, "the burst sent after the restart", settled)
	held := count(`SELECT count(*) FROM whatsapp_message WHERE status = 'unknown'`)
	if held > 0 {
		// Requests cut by the restart after their dispatch was recorded: Meta never
		// had them, or its webhook would have settled them. An operator resends.
		seen := bodiesAt(emu)
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		rows, _ := conn.Query(ctx, `SELECT content FROM whatsapp_message WHERE status = 'unknown'`)
		bodies, _ := pgx.CollectRows(rows, pgx.RowTo[string])
		for _, b := range bodies {
			if seen[b] > 0 {
				t.Errorf("%q reached Meta yet is unknown after its webhooks were applied", b)
			}
		}
		if _, err := conn.Exec(ctx, `UPDATE whatsapp_message SET status = 'queued' WHERE status = 'unknown'`); err != nil {
			t.Fatal(err)
		}
		conn.Close(ctx)
		pgtest.Eventually(t, "the held messages sent", settled)
	}
	seen := bodiesAt(emu)
	for body, n := range seen {
		if n != 1 {
			t.Errorf("%q reached Meta %d times", body, n)
		}
	}
	if len(seen) != total {
		t.Errorf("%d distinct messages reached Meta, want %d", len(seen), total)
	}
	if n := count(`SELECT count(*) FROM whatsapp_message WHERE status <> 'sent'`); n != 0 {
		t.Errorf("%d messages not sent", n)
	}
	t.Logf("PostgreSQL restarted after %d of %d accepted; %d held as unknown and requeued", atRestart, total, held)
}

// Without a token anywhere and without asking for the sandbox, nothing pretends to
// send: messages stay queued, /readyz says what is missing. A token written into
// whatsapp_config later is picked up on reload, without a restart, and the waiting
// messages go at once.
func TestFaultNoTokenKeepsMessagesQueuedUntilOneIsSet(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, pgtest.Sidecar)
	emu := emulatortest.Start(t, emulator.Config{AccessToken: "tok"})
	db.Exec(t, `INSERT INTO whatsapp_config (name, phone_number_id, company_id, default_country_code)
		VALUES ('Boutique', '1065', 1, 'SN')`)
	d := daemonOn(t, db.URL, map[string]string{"WHATSAPP_API_URL": emu.BaseURL()}, nil)
	if d.Emulator() != nil {
		t.Fatal("the sandbox started without being asked for")
	}
	if code, body := readyz(t, d); code != http.StatusServiceUnavailable || !strings.Contains(body, "whatsapp: no WhatsApp access token") {
		t.Errorf("/readyz: %d %q, want 503 saying no access token", code, body)
	}
	var id int
	db.QueryRow(t, []any{&id}, `INSERT INTO whatsapp_message (phone, content) VALUES ('+221770000099', 'attend') RETURNING id`)
	pgtest.Eventually(t, "the sender to see the message", func() bool {
		var reason string
		db.QueryRow(t, []any{&reason}, `SELECT COALESCE(retry_reason, '') FROM whatsapp_message WHERE id = $1`, id)
		return reason == "no_credentials"
	})
	var status string
	db.QueryRow(t, []any{&status}, `SELECT status FROM whatsapp_message WHERE id = $1`, id)
	if status != "queued" || emulatortest.Accepted(emu) != 0 {
		t.Fatalf("without a token the message is %s and %d reached Meta; want queued and none", status, emulatortest.Accepted(emu))
	}
	db.Exec(t, `UPDATE whatsapp_config SET access_token = 'tok'`)
	pgtest.Eventually(t, "the message sent once the token is set", func() bool {
		db.QueryRow(t, []any{&status}, `SELECT status FROM whatsapp_message WHERE id = $1`, id)
		return status == "sent"
	})
	pgtest.Eventually(t, "/readyz to answer 200", func() bool { code, _ := readyz(t, d); return code == 200 })
}

// /readyz turns not ready while LISTEN is lost and back when it returns, and shows
// the operator a reason, never a raw database error.
func TestFaultReadinessFollowsTheListener(t *testing.T) {
	t.Parallel()
	db, emu := withAccount(t)
	d := startDaemon(t, db, emu, nil)
	if code, body := readyz(t, d); code != 200 {
		t.Fatalf("/readyz: %d %q", code, body)
	}
	var killed int
	db.QueryRow(t, []any{&killed}, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query ILIKE 'listen %'`)
	if killed != 1 {
		t.Fatalf("terminated %d LISTEN connections, want 1", killed)
	}
	pgtest.Eventually(t, "/readyz to say LISTEN is lost", func() bool {
		code, body := readyz(t, d)
		return code == http.StatusServiceUnavailable && strings.Contains(body, "listener: LISTEN is not in place")
	})
	pgtest.Eventually(t, "/readyz back to 200", func() bool { code, _ := readyz(t, d); return code == 200 })
}

// slowMeta is a database with 50 messages queued for an account paced at 5 msg/s,
// and Meta answering after latency; arrived fires when a request reaches Meta.
func slowMeta(t *testing.T, latency time.Duration) (*pgtest.DB, *emulator.Server, <-chan struct{}) {
	t.Helper()
	db := pgtest.NewDB(t, pgtest.Sidecar)
	arrived := make(chan struct{}, 100)
	emu := emulatortest.Start(t, emulator.Config{AccessToken: "tok", Knobs: emulator.Knobs{Latency: latency},
		OnRequest: func(*http.Request) {
			select {
			case arrived <- struct{}{}:
			default:
			}
		}})
	db.Exec(t, `INSERT INTO whatsapp_config (name, phone_number_id, access_token, company_id, default_country_code, rate_limit_per_second)
		VALUES ('Boutique', '1065', 'tok', 1, 'SN', 5)`)
	db.Exec(t, `INSERT INTO whatsapp_message (phone, content)
		SELECT '+22177' || lpad(g::text, 7, '0'), 'stop ' || g FROM generate_series(1, 50) g`)
	return db, emu, arrived
}

// SIGTERM: the requests under way finish and are recorded; rows claimed but not
// started are given back; nothing is left 'sending'.
func TestFaultStopFinishesTheSendsUnderWay(t *testing.T) {
	t.Parallel()
	db, emu, arrived := slowMeta(t, 300*time.Millisecond)
	d := daemonOn(t, db.URL, map[string]string{"WHATSAPP_API_URL": emu.BaseURL()}, nil)
	<-arrived // a request is under way
	if err := d.Stop(context.Background()); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	var sending, unknown, sent int
	db.QueryRow(t, []any{&sending, &unknown, &sent}, `SELECT count(*) FILTER (WHERE status = 'sending'),
		count(*) FILTER (WHERE status = 'unknown'), count(*) FILTER (WHERE status = 'sent') FROM whatsapp_message`)
	if sending != 0 || unknown != 0 {
		t.Errorf("after a graceful stop: %d sending, %d unknown; want none", sending, unknown)
	}
	if at := emulatortest.Accepted(emu); at != sent || sent == 0 {
		t.Errorf("Meta accepted %d messages, %d are recorded sent; want the same, more than 0", at, sent)
	}
}

// Past SHUTDOWN_TIMEOUT the requests still under way are cancelled and left to
// reconciliation ('unknown': Meta may have them), the rows not started are given
// back, and Stop says it cut work short; nothing is written after the pool closes.
func TestFaultStopPastTheDeadlineCancels(t *testing.T) {
	t.Parallel()
	db, emu, arrived := slowMeta(t, time.Hour)
	logs := &syncBuffer{}
	d := daemonOn(t, db.URL, map[string]string{"WHATSAPP_API_URL": emu.BaseURL(), "SHUTDOWN_TIMEOUT": "1s"}, logs)
	<-arrived
	err := d.Stop(context.Background())
	if err == nil || !strings.Contains(err.Error(), "shutdown timeout") {
		t.Errorf("stop past the deadline returned %v, want a shutdown timeout", err)
	}
	var sending, unknown, queued int
	db.QueryRow(t, []any{&sending, &unknown, &queued}, `SELECT count(*) FILTER (WHERE status = 'sending'),
		count(*) FILTER (WHERE status = 'unknown'), count(*) FILTER (WHERE status = 'queued') FROM whatsapp_message`)
	if sending != 0 || unknown == 0 || queued == 0 {
		t.Errorf("after the deadline: %d sending, %d unknown, %d queued; want 0, the requests cut short, the rest", sending, unknown, queued)
	}
	if strings.Contains(logs.String(), "closed pool") {
		t.Errorf("something was written after the pool closed:\n%s", logs)
	}
}
