package main

import (
	"context"
	"io"

	"github.com/sethvargo/go-envconfig"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/demo"
)

// runDemo is `whatsapp-sidecar demo`: see package demo.
func runDemo(ctx context.Context, args []string, env envconfig.Lookuper, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	o := demo.Options{Env: env, Version: fullVersion(), Stdout: stdout, Stderr: stderr}
	fs.StringVar(&o.Server, "server", "", "admin URL of the PostgreSQL server (default: 127.0.0.1:5432, else a throwaway cluster)")
	fs.StringVar(&o.Database, "db", "whatsapp_sidecar_demo", "name of the demo database (recreated)")
	fs.StringVar(&o.DumpDir, "odoo-dump", "testdata/odoo16", "directory holding schema.sql and demo_data.sql.gz")
	fs.StringVar(&o.WebhookAddr, "webhook-addr", "127.0.0.1:8080", "public listener (webhook)")
	fs.StringVar(&o.MetricsAddr, "metrics-addr", "127.0.0.1:9464", "metrics and health listener")
	fs.BoolVar(&o.Play, "play", true, "play Odoo activity (orders, invoices, payments); false: only run the sidecar")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return demo.Run(ctx, o)
}
