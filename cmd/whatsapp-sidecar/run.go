package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sethvargo/go-envconfig"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/config"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/install"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/logging"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/metrics"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/migrate"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/ops"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/server"
)

// listening, when set (by tests), learns each listener's bound address.
var listening func(name, addr string)

func runSidecar(ctx context.Context, args []string, env envconfig.Lookuper, stdout, stderr io.Writer) error {
	fs := newFlags("run", stderr)
	autoMigrate := fs.Bool("migrate", false, "apply pending migrations before starting (as `whatsapp-sidecar migrate` would)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(ctx, env)
	if err != nil {
		return err
	}
	level, _ := config.ParseLevel(cfg.LogLevel)
	logger := logging.New(stderr, level, cfg.LogFormat)
	logger.Info("starting", "version", fullVersion())

	pool, err := openPool(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := checkSchema(ctx, pool, *autoMigrate, logger); err != nil {
		return err
	}

	reg := metrics.NewRegistry(version)
	opsServer, err := server.Listen(cfg.MetricsAddr, "metrics", ops.Handler(reg,
		ops.Check{Name: "database", Func: func(ctx context.Context) error { return pool.Ping(ctx) }},
		ops.Check{Name: "schema", Func: func(ctx context.Context) error { return schemaCurrent(ctx, pool) }},
	), logger)
	if err != nil {
		return err
	}
	webhookMux := http.NewServeMux()
	webhookMux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "whatsapp-sidecar")
	})
	webhookServer, err := server.Listen(cfg.WebhookAddr, "webhook", webhookMux, logger)
	if err != nil {
		_ = opsServer.Shutdown(context.WithoutCancel(ctx))
		return err
	}
	if listening != nil {
		listening("metrics", opsServer.Addr())
		listening("webhook", webhookServer.Addr())
	}

	<-ctx.Done()
	logger.Info("stopping", "timeout", cfg.ShutdownTimeout)
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	// The public listener first (Meta retries what it could not deliver), the ops
	// listener last so /metrics and /healthz answer while the rest drains.
	err = errors.Join(webhookServer.Shutdown(stopCtx), opsServer.Shutdown(stopCtx))
	logger.Info("stopped")
	return err
}

// openPool connects to Odoo's database, waiting for it (with a growing delay) when it
// is not up yet, as after a host reboot where the sidecar starts first.
func openPool(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*pgxpool.Pool, error) {
	poolCfg, err := pgxpool.ParseConfig(cfg.DatabaseURL.Reveal())
	if err != nil {
		return nil, errors.New("DATABASE_URL: not a valid PostgreSQL connection string")
	}
	poolCfg.ConnConfig.RuntimeParams["application_name"] = "whatsapp-sidecar"
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	delay := time.Second
	for {
		err := pool.Ping(ctx)
		if err == nil {
			return pool, nil
		}
		logger.Warn("database not reachable, retrying", "err", err, "in", delay)
		select {
		case <-ctx.Done():
			pool.Close()
			return nil, fmt.Errorf("connect to database: %w", err)
		case <-time.After(delay):
		}
		delay = min(delay*2, 30*time.Second)
	}
}

func checkSchema(ctx context.Context, pool *pgxpool.Pool, autoMigrate bool, logger *slog.Logger) error {
	if autoMigrate {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		defer conn.Release()
		report, err := install.Migrate(ctx, conn.Conn())
		for _, line := range report {
			logger.Info(line)
		}
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		return nil
	}
	return schemaCurrent(ctx, pool)
}

func schemaCurrent(ctx context.Context, pool *pgxpool.Pool) error {
	v, err := migrate.Version(ctx, pool)
	if err != nil {
		return err
	}
	switch latest := migrate.Latest(); {
	case v == 0:
		return errors.New("the sidecar is not installed in this database: run `whatsapp-sidecar migrate` (or `run --migrate`)")
	case v < latest:
		return fmt.Errorf("database schema at version %d, this binary needs %d: run `whatsapp-sidecar migrate`", v, latest)
	case v > latest:
		return fmt.Errorf("database schema at version %d is newer than this binary (%d): upgrade the binary", v, latest)
	}
	return nil
}
