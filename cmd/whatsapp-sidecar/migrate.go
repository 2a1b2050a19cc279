package main

import (
	"context"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"
	"github.com/sethvargo/go-envconfig"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/install"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/config"
)

func runMigrate(ctx context.Context, args []string, env envconfig.Lookuper, stdout, stderr io.Writer) error {
	fs := newFlags("migrate", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	conn, err := connectForDDL(ctx, env)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	report, err := install.Migrate(ctx, conn)
	printReport(stdout, report)
	return err
}

func runUninstall(ctx context.Context, args []string, env envconfig.Lookuper, stdout, stderr io.Writer) error {
	fs := newFlags("uninstall", stderr)
	dropData := fs.Bool("drop-data", false, "also drop the whatsapp_* tables, the x_whatsapp_* columns and their Odoo fields: every message and flag is lost")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	conn, err := connectForDDL(ctx, env)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	report, err := install.Uninstall(ctx, conn, *dropData)
	printReport(stdout, report)
	return err
}

// connectForDDL opens the one connection migrate and uninstall work on; it holds
// their advisory lock.
func connectForDDL(ctx context.Context, env envconfig.Lookuper) (*pgx.Conn, error) {
	cfg, err := config.Load(ctx, env)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, cfg.DatabaseURL.Reveal())
	if err != nil {
		return nil, fmt.Errorf("connect to DATABASE_URL: %w", err)
	}
	return conn, nil
}

func printReport(w io.Writer, lines []string) {
	for _, line := range lines {
		fmt.Fprintln(w, line)
	}
}
