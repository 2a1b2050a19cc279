package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/server"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator/emulatortest"
)

// A real kill -9 of the binary in the middle of a burst of 10,000 messages, with
// Meta's status webhooks on, then a restart: every message reaches Meta exactly
// once. What makes it so is not timing but the outbox's rules: claims die with the
// killed process (its rows are taken over at once), a row whose request was never
// dispatched is queued again, one whose request may have left waits 'unknown' for
// Meta's status webhook (the emulator retries it until the restarted sidecar takes
// it). Sends truly lost on the way are held for a person (UNKNOWN_RESEND_AFTER=never):
// once Meta has told everything it had to, the test checks that none of them
// reached Meta, then requeues them as an operator would.
func TestKillNineMidBurstThenRestart(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("spawns the sidecar twice")
	}
	ctx := context.Background()
	db := pgtest.NewDB(t, pgtest.Sidecar)
	// Both processes serve the one socket this test holds, as under systemd's
	// socket activation: a port closed and bound again could be taken in between
	// by any connection's local port (CI saw "address already in use").
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	webhookAddr := ln.Addr().String()
	const total = 10_000
	emu := emulatortest.Start(t, emulator.Config{
		AccessToken: "tok", AppSecret: "app-secret", WebhookURL: "http://" + webhookAddr + "/whatsapp/webhook",
		// Every request kept: one cut by the kill (over HTTP/2 its body may come
		// apart from its headers) can be recorded as an error, and pushed the oldest
		// send out of a record of exactly 10,000 once in 8 runs.
		MaxRecorded: 2 * total,
		Knobs: emulator.Knobs{Latency: 20 * time.Millisecond, StopAt: "sent", WebhookMaxAttempts: 1_000_000,
			WebhookRetryDelay: 50 * time.Millisecond, WebhookRetryMaxDelay: 500 * time.Millisecond},
	})
	db.Exec(t, `INSERT INTO whatsapp_config (name, phone_number_id, access_token, facebook_app_secret, company_id,
		default_country_code, rate_limit_per_second)
		VALUES ('Boutique', '1065', 'tok', 'app-secret', 1, 'SN', 1000)`)
	db.Exec(t, `INSERT INTO whatsapp_message (phone, content)
		SELECT '+22177' || lpad(g::text, 7, '0'), 'burst ' || g FROM generate_series(1, $1) g`, total)

	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "run")
		cmd.Env = append(os.Environ(), "WHATSAPP_SIDECAR_TEST_AS_MAIN=1",
			"DATABASE_URL="+db.URL, "WHATSAPP_API_URL="+emu.BaseURL(),
			"METRICS_ADDR=127.0.0.1:0", "UNKNOWN_RESEND_AFTER=never", "LOG_LEVEL=error")
		cmd.Stderr = os.Stderr
		// Dies with the test binary, even when a timeout panic skips the cleanups.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := server.StartWithListeners(cmd, map[string]*net.TCPListener{"webhook": ln.(*net.TCPListener)}); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	first := start()
	pgtest.EventuallyWhileMoving(t, "a third of the burst at Meta", func() bool { return emulatortest.Accepted(emu) >= total/3 },
		func() string { return fmt.Sprintf("%d accepted by Meta", emulatortest.Accepted(emu)) })
	if err := first.Process.Kill(); err != nil { // SIGKILL: no graceful anything
		t.Fatal(err)
	}
	first.Wait()
	atKill := emulatortest.Accepted(emu)
	if atKill >= total {
		t.Fatalf("the whole burst was sent before the kill: the test tests nothing")
	}

	second := start()
	t.Cleanup(func() {
		second.Process.Signal(os.Interrupt)
		second.Wait()
	})
	count := func(query string) int {
		var n int
		if err := db.Pool(t).QueryRow(ctx, query).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Settled, in this order: nothing left to send (so nothing more reaches Meta),
	// every webhook Meta had acknowledged, every stored delivery applied.
	settled := func() bool {
		return count(`SELECT count(*) FROM whatsapp_message WHERE status IN ('queued', 'sending')`) == 0 &&
			emu.PendingWebhooks() == 0 &&
			count(`SELECT count(*) FROM whatsapp_sidecar.inbox WHERE processed_at IS NULL`) == 0
	}
	// Progress, for a slow machine: what Meta accepted, what is left to send and to apply.
	progress := func() string {
		return fmt.Sprintf("%d accepted by Meta, %d queued or sending, %d webhooks pending at Meta, %d deliveries unapplied",
			emulatortest.Accepted(emu), count(`SELECT count(*) FROM whatsapp_message WHERE status IN ('queued', 'sending')`),
			emu.PendingWebhooks(), count(`SELECT count(*) FROM whatsapp_sidecar.inbox WHERE processed_at IS NULL`))
	}
	pgtest.EventuallyWhileMoving(t, "the burst sent and Meta's webhooks applied", settled, progress)

	atMeta := bodiesAtMeta(t, emu)
	rows, err := db.Pool(t).Query(ctx, `SELECT content FROM whatsapp_message WHERE status = 'unknown'`)
	if err != nil {
		t.Fatal(err)
	}
	var held []string
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			t.Fatal(err)
		}
		held = append(held, body)
	}
	rows.Close()
	for _, body := range held {
		if atMeta[body] > 0 {
			t.Errorf("%q reached Meta, yet is still 'unknown' after every status webhook was applied", body)
		}
	}
	// The operator sends the held ones again (the message form's status, or SQL).
	db.Exec(t, `UPDATE whatsapp_message SET status = 'queued' WHERE status = 'unknown'`)
	pgtest.EventuallyWhileMoving(t, "the held messages sent", func() bool {
		return settled() && count(`SELECT count(*) FROM whatsapp_message WHERE status = 'unknown'`) == 0
	}, progress)

	dup := 0
	atMeta = bodiesAtMeta(t, emu)
	for body, n := range atMeta {
		if n > 1 {
			dup++
			t.Errorf("%q reached Meta %d times", body, n)
		}
	}
	if len(atMeta) != total {
		t.Errorf("%d distinct messages reached Meta, want %d", len(atMeta), total)
	}
	if n := count(`SELECT count(*) FROM whatsapp_message WHERE status NOT IN ('sent', 'delivered', 'read')`); n != 0 {
		t.Errorf("%d messages not settled as sent", n)
	}
	t.Logf("killed after %d of %d accepted; %d held as unknown (never reached Meta), requeued; %d duplicates",
		atKill, total, len(held), dup)
}

// bodiesAtMeta counts, per text, the messages the emulator accepted.
func bodiesAtMeta(t *testing.T, emu *emulator.Server) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for _, r := range emu.Requests() {
		if !strings.HasSuffix(r.Path, "/messages") || r.Status != 200 {
			continue
		}
		var req whatsapp.SendRequest
		if err := json.Unmarshal(r.Body, &req); err == nil && req.Text != nil {
			seen[req.Text.Body]++
		}
	}
	return seen
}
