package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"path/filepath"

	"github.com/jackc/pgx/v5"
	"github.com/sethvargo/go-envconfig"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/pgcluster"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/pgdump"
)

// runDemo builds a demo Odoo 16 database (the real schema and demo rows of
// testdata/odoo16) on the local PostgreSQL, or on a throwaway cluster when none runs,
// and runs the sidecar on it.
func runDemo(ctx context.Context, args []string, env envconfig.Lookuper, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	serverURL := fs.String("server", "", "admin URL of the PostgreSQL server (default: 127.0.0.1:5432, else a throwaway cluster)")
	dbName := fs.String("db", "whatsapp_sidecar_demo", "name of the demo database (recreated)")
	dumpDir := fs.String("odoo-dump", "testdata/odoo16", "directory holding schema.sql and demo_data.sql.gz")
	webhookAddr := fs.String("webhook-addr", "127.0.0.1:8080", "public listener (webhook, sandbox page)")
	metricsAddr := fs.String("metrics-addr", "127.0.0.1:9464", "metrics and health listener")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	server, cluster, err := pgcluster.Find(ctx, *serverURL, false)
	if err != nil {
		return err
	}
	if cluster != nil {
		defer cluster.Stop()
		fmt.Fprintf(stdout, "No PostgreSQL at 127.0.0.1:5432: started a throwaway cluster at %s\n", server)
	}
	dbURL, err := createDemoDatabase(ctx, server, *dbName, *dumpDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Demo Odoo 16 database ready: %s\n", dbURL)
	demoEnv := envconfig.MultiLookuper(envconfig.MapLookuper(map[string]string{
		"DATABASE_URL": dbURL,
		"WEBHOOK_ADDR": *webhookAddr,
		"METRICS_ADDR": *metricsAddr,
	}), env)
	return runSidecar(ctx, []string{"--migrate"}, demoEnv, stdout, stderr)
}

func createDemoDatabase(ctx context.Context, server, name, dumpDir string) (string, error) {
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", server, err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return "", fmt.Errorf("drop old demo database: %w", err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return "", fmt.Errorf("create demo database: %w", err)
	}
	u, err := url.Parse(server)
	if err != nil {
		return "", fmt.Errorf("server URL: %w", err)
	}
	u.Path = "/" + name
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return "", fmt.Errorf("connect to demo database: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, file := range []string{"schema.sql", "demo_data.sql.gz"} {
		if err := pgdump.RestoreFile(ctx, conn, filepath.Join(dumpDir, file)); err != nil {
			return "", err
		}
	}
	return u.String(), nil
}
