package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sethvargo/go-envconfig"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/odoosim"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/config"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator/emulatortest"
)

// messagesAtEmulator counts the message requests Meta (the emulator) accepted.
func messagesAtEmulator(emu *emulator.Server) int {
	n := 0
	for _, r := range emu.Requests() {
		if strings.HasSuffix(r.Path, "/messages") && r.Status == 200 {
			n++
		}
	}
	return n
}

// eventually waits for cond, checking it as the system reports progress; the
// deadline only bounds a failing test.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// withAccount is a sidecar-installed Odoo database whose active WhatsApp account
// (company 1, Senegal, order notifications on) talks to a fresh emulator.
func withAccount(t *testing.T) (*pgtest.DB, *emulator.Server) {
	t.Helper()
	db := pgtest.NewDB(t, pgtest.Sidecar)
	emu := emulatortest.Start(t, emulator.Config{AccessToken: "tok"})
	db.Exec(t, `INSERT INTO whatsapp_config (name, phone_number_id, access_token, company_id, default_country_code, auto_send_order_creation)
		VALUES ('Boutique', '1065', 'tok', 1, 'SN', true)`)
	return db, emu
}

func startTestDaemon(t *testing.T, db *pgtest.DB, emu *emulator.Server) *daemon {
	t.Helper()
	cfg, err := config.Load(context.Background(), envconfig.MapLookuper(map[string]string{
		"DATABASE_URL": db.URL, "WEBHOOK_ADDR": "127.0.0.1:0", "METRICS_ADDR": "127.0.0.1:0",
		"WHATSAPP_API_URL": emu.BaseURL(), "SHUTDOWN_TIMEOUT": "20s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	d, err := startDaemon(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), false)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// A database restart (every connection killed, as pg_terminate_backend or a
// failover does) in the middle of a run: the sidecar reconnects, and every order
// created before and after gets its message exactly once.
func TestDatabaseConnectionsKilledMidRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, emu := withAccount(t)
	db.Exec(t, `INSERT INTO res_partner (name, display_name, mobile, country_id, type, active)
		SELECT 'Client ' || g, 'Client ' || g, '+22176' || lpad(g::text, 7, '0'), 204, 'contact', true FROM generate_series(1, 40) g`)
	var first int
	db.QueryRow(t, []any{&first}, `SELECT min(id) FROM res_partner WHERE name LIKE 'Client %'`)
	d := startTestDaemon(t, db, emu)
	defer d.stop(ctx)

	orders := func(pool *pgxpool.Pool, from, to int) {
		for i := from; i < to; i++ {
			if _, err := odoosim.NewQuotation(ctx, pool, first+i, 1000, 180); err != nil {
				t.Fatal(err)
			}
		}
	}
	orders(db.Pool(t), 0, 20)
	eventually(t, "the first 20 messages", func() bool { return messagesAtEmulator(emu) >= 20 })

	var killed int
	db.QueryRow(t, []any{&killed}, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`)
	if killed == 0 {
		t.Fatal("no sidecar connection was killed: the test tests nothing")
	}
	fresh, err := pgxpool.New(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	orders(fresh, 20, 40)
	eventually(t, "the 20 messages of orders made after the restart", func() bool {
		var sent int
		_ = fresh.QueryRow(ctx, `SELECT count(*) FROM whatsapp_message WHERE status = 'sent' AND kind = 'order_created'`).Scan(&sent)
		return sent == 40
	})
	if n := messagesAtEmulator(emu); n != 40 {
		t.Errorf("the emulator accepted %d messages, want exactly 40", n)
	}
}
