package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator/emulatortest"
)

// kill -9 in the middle of a burst, then a restart: every message reaches Meta
// exactly once. Sends whose answer died with the process are settled by Meta's
// status webhooks (biz_opaque_callback_data = the row) before their lease ends;
// the others are sent after it.
func TestKillNineMidBurstThenRestart(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("spawns the sidecar twice")
	}
	ctx := context.Background()
	db := pgtest.NewDB(t, pgtest.Sidecar)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	webhookAddr := ln.Addr().String()
	ln.Close()
	emu := emulatortest.Start(t, emulator.Config{
		AccessToken: "tok", AppSecret: "app-secret", WebhookURL: "http://" + webhookAddr + "/whatsapp/webhook",
		Knobs: emulator.Knobs{Latency: 20 * time.Millisecond, StopAt: "sent", WebhookMaxAttempts: 30, WebhookRetryDelay: 100 * time.Millisecond},
	})
	db.Exec(t, `INSERT INTO whatsapp_config (name, phone_number_id, access_token, facebook_app_secret, company_id, default_country_code)
		VALUES ('Boutique', '1065', 'tok', 'app-secret', 1, 'SN')`)
	const total = 400
	db.Exec(t, `INSERT INTO whatsapp_message (phone, content)
		SELECT '+22177' || lpad(g::text, 7, '0'), 'burst ' || g FROM generate_series(1, $1) g`, total)

	// The emulator retries webhooks at 0.1, 0.3, 0.7 ... 12.7, 25.5 s, as Meta retries
	// with decreasing frequency; two 15 s leases leave room for the retries after a
	// restart even on a loaded machine (an 8 s lease lost one under -race).
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "run")
		cmd.Env = append(os.Environ(), "WHATSAPP_SIDECAR_TEST_AS_MAIN=1",
			"DATABASE_URL="+db.URL, "WHATSAPP_API_URL="+emu.BaseURL(), "WEBHOOK_ADDR="+webhookAddr,
			"METRICS_ADDR=127.0.0.1:0", "SEND_LEASE=15s", "LOG_LEVEL=error")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	first := start()
	pgtest.Eventually(t, "a third of the burst at Meta", func() bool { return emulatortest.Accepted(emu) >= total/3 })
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
	pgtest.Eventually(t, "every message settled", func() bool {
		var open int
		_ = db.Pool(t).QueryRow(ctx, `SELECT count(*) FROM whatsapp_message WHERE status NOT IN ('sent', 'delivered', 'read')`).Scan(&open)
		return open == 0
	})
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
	dup := 0
	for body, n := range seen {
		if n > 1 {
			dup++
			t.Errorf("%q reached Meta %d times", body, n)
		}
	}
	if len(seen) != total {
		t.Errorf("%d distinct messages reached Meta, want %d", len(seen), total)
	}
	t.Logf("killed after %d of %d accepted; %d duplicates", atKill, total, dup)
}
