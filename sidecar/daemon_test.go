package sidecar_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sethvargo/go-envconfig"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/odoosim"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/config"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator/emulatortest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

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

// startDaemon starts a daemon on db talking to emu, stopped when the test ends.
func startDaemon(t *testing.T, db *pgtest.DB, emu *emulator.Server, extra map[string]string) *sidecar.Daemon {
	t.Helper()
	env := map[string]string{
		"DATABASE_URL": db.URL, "WEBHOOK_ADDR": "127.0.0.1:0", "METRICS_ADDR": "127.0.0.1:0",
		"WHATSAPP_API_URL": emu.BaseURL(), "SHUTDOWN_TIMEOUT": "20s",
	}
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := config.Load(context.Background(), envconfig.MapLookuper(env))
	if err != nil {
		t.Fatal(err)
	}
	d, err := sidecar.New(sidecar.Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
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
	startDaemon(t, db, emu, nil)

	orders := func(pool *pgxpool.Pool, from, to int) {
		for i := from; i < to; i++ {
			if _, err := odoosim.NewQuotation(ctx, pool, first+i, 1000, 180); err != nil {
				t.Fatal(err)
			}
		}
	}
	orders(db.Pool(t), 0, 20)
	pgtest.Eventually(t, "the first 20 messages", func() bool { return emulatortest.Accepted(emu) >= 20 })

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
	pgtest.Eventually(t, "the 20 messages of orders made after the restart", func() bool {
		var sent int
		_ = fresh.QueryRow(ctx, `SELECT count(*) FROM whatsapp_message WHERE status = 'sent' AND kind = 'order_created'`).Scan(&sent)
		return sent == 40
	})
	if n := emulatortest.Accepted(emu); n != 40 {
		t.Errorf("the emulator accepted %d messages, want exactly 40", n)
	}
}

// Go's profiles are served only when an operator asks for them, on the private
// listener.
func TestProfilesOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	db, emu := withAccount(t)
	for _, c := range []struct {
		env  string
		want int
	}{{"false", http.StatusNotFound}, {"true", http.StatusOK}} {
		d := startDaemon(t, db, emu, map[string]string{"DEBUG_PPROF": c.env})
		resp, err := http.Get("http://" + d.MetricsAddr() + "/debug/pprof/heap")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("DEBUG_PPROF=%s: /debug/pprof/heap answered %d, want %d", c.env, resp.StatusCode, c.want)
		}
		if err := d.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}
