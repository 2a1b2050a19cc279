package main

import (
	"context"
	"io"

	"github.com/sethvargo/go-envconfig"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/config"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/logging"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/server"
)

// runSidecar is `whatsapp-sidecar run`: the daemon until SIGTERM or SIGINT.
func runSidecar(ctx context.Context, args []string, env envconfig.Lookuper, _, stderr io.Writer) error {
	fs := newFlags("run", stderr)
	autoMigrate := fs.Bool("migrate", false, "apply pending migrations before starting (as `whatsapp-sidecar migrate` would)")
	sandbox := fs.Bool("sandbox", false, "talk to the built-in Cloud API emulator instead of Meta: nothing reaches a phone (also WHATSAPP_SANDBOX=true)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(ctx, env)
	if err != nil {
		return err
	}
	level, _ := config.ParseLevel(cfg.LogLevel)
	listeners, err := server.Activated()
	if err != nil {
		return err
	}
	d, err := sidecar.New(sidecar.Options{
		Config: cfg, Logger: logging.New(stderr, level, cfg.LogFormat), Version: fullVersion(),
		Migrate: *autoMigrate, Sandbox: *sandbox, Listeners: listeners,
	})
	if err != nil {
		return err
	}
	if err := d.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	return d.Stop(context.WithoutCancel(ctx))
}
