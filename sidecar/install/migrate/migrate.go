// Package migrate installs, upgrades and removes the sidecar's objects in Odoo's
// database: the embedded, versioned migrations of package sql, and the uninstall that
// leaves Odoo as it was. Both are idempotent and safe to run from several replicas at
// once: they serialise on a session advisory lock.
package migrate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	sidecarsql "github.com/odoo-whatsapp/whatsapp-sidecar/sql"
)

// lockKey is the advisory lock every migrate and uninstall holds: the first 8 bytes of
// sha256("whatsapp_sidecar.migrate"), a value no other application is likely to use.
const lockKey int64 = 0x3c1f5a7d2e9b4c61

// Schema is the sidecar's own PostgreSQL schema.
const Schema = "whatsapp_sidecar"

// Migration is one embedded file, sql/migrations/NNN_name.sql.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

var migrationFile = regexp.MustCompile(`^(\d{3})_([a-z0-9_]+)\.sql$`)

// Load reads the migrations of fsys (a tree holding migrations/*.sql) in version order.
func Load(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var migrations []Migration
	seen := map[int]string{}
	for _, name := range names {
		m := migrationFile.FindStringSubmatch(path.Base(name))
		if m == nil {
			return nil, fmt.Errorf("migration %s: name is not NNN_name.sql", name)
		}
		version, _ := strconv.Atoi(m[1])
		if other, dup := seen[version]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", other, name, version)
		}
		seen[version] = name
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		migrations = append(migrations, Migration{Version: version, Name: m[1] + "_" + m[2], SQL: string(body)})
	}
	sort.Slice(migrations, func(i, j int) bool { return migrations[i].Version < migrations[j].Version })
	return migrations, nil
}

// Embedded returns the migrations built into the binary.
func Embedded() []Migration {
	migrations, err := Load(sidecarsql.Migrations)
	if err != nil {
		// The embedded files are checked by tests; a bad name is a build mistake.
		panic(err)
	}
	return migrations
}

// Options tune a run. The zero value is ready to use.
type Options struct {
	// Migrations to apply; nil means Embedded().
	Migrations []Migration
	// LockTimeout bounds each wait for a lock on Odoo's tables (ALTER TABLE, CREATE
	// TRIGGER), so a long Odoo transaction makes us retry rather than stall Odoo's
	// queries queued behind ours. Zero means 5s.
	LockTimeout time.Duration
	// LockRetries is how many times a migration that hit LockTimeout is retried.
	// Zero means 5.
	LockRetries int
	// After runs under the same advisory lock once the migrations are applied; the
	// Odoo metadata installer plugs in here. It returns lines for the report.
	After func(ctx context.Context, conn *pgx.Conn) ([]string, error)
}

func (o Options) withDefaults() Options {
	if o.Migrations == nil {
		o.Migrations = Embedded()
	}
	if o.LockTimeout == 0 {
		o.LockTimeout = 5 * time.Second
	}
	if o.LockRetries == 0 {
		o.LockRetries = 5
	}
	return o
}

// Up applies the pending migrations and returns one line per thing it did.
func Up(ctx context.Context, conn *pgx.Conn, opts Options) ([]string, error) {
	opts = opts.withDefaults()
	var report []string
	err := withLock(ctx, conn, func() error {
		if _, err := conn.Exec(ctx, createBookkeeping); err != nil {
			return fmt.Errorf("create %s.migration: %w", Schema, err)
		}
		applied := map[int]bool{}
		rows, err := conn.Query(ctx, `SELECT version FROM whatsapp_sidecar.migration`)
		if err != nil {
			return fmt.Errorf("read applied migrations: %w", err)
		}
		versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
		if err != nil {
			return fmt.Errorf("read applied migrations: %w", err)
		}
		for _, v := range versions {
			applied[v] = true
		}
		for _, m := range opts.Migrations {
			if applied[m.Version] {
				continue
			}
			start := time.Now()
			if err := applyWithRetry(ctx, conn, m, opts); err != nil {
				return err
			}
			report = append(report, fmt.Sprintf("applied migration %s (%s)", m.Name, time.Since(start).Round(time.Millisecond)))
		}
		if len(report) == 0 {
			report = append(report, fmt.Sprintf("schema up to date at version %d", opts.Migrations[len(opts.Migrations)-1].Version))
		}
		if opts.After != nil {
			lines, err := opts.After(ctx, conn)
			if err != nil {
				return err
			}
			report = append(report, lines...)
		}
		return nil
	})
	return report, err
}

const createBookkeeping = `
CREATE SCHEMA IF NOT EXISTS whatsapp_sidecar;
CREATE TABLE IF NOT EXISTS whatsapp_sidecar.migration (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)`

func applyWithRetry(ctx context.Context, conn *pgx.Conn, m Migration, opts Options) error {
	for attempt := 1; ; attempt++ {
		err := apply(ctx, conn, m, opts.LockTimeout)
		if err == nil || !isLockTimeout(err) || attempt > opts.LockRetries {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt) * time.Second):
		}
	}
}

func apply(ctx context.Context, conn *pgx.Conn, m Migration, lockTimeout time.Duration) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d", lockTimeout.Milliseconds())); err != nil {
			return fmt.Errorf("migration %s: set lock_timeout: %w", m.Name, err)
		}
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO whatsapp_sidecar.migration (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
			return fmt.Errorf("migration %s: record: %w", m.Name, err)
		}
		return nil
	})
}

func isLockTimeout(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "55P03"
}

// Version returns the highest applied migration, 0 when the sidecar is not installed.
func Version(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (int, error) {
	var version int
	err := q.QueryRow(ctx, `SELECT COALESCE(max(version), 0) FROM whatsapp_sidecar.migration`).Scan(&version)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table: never installed
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read migration version: %w", err)
	}
	return version, nil
}

// Latest is the version the embedded migrations reach.
func Latest() int {
	migrations := Embedded()
	return migrations[len(migrations)-1].Version
}

func withLock(ctx context.Context, conn *pgx.Conn, fn func() error) error {
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, lockKey); err != nil {
		return fmt.Errorf("take migration lock: %w", err)
	}
	defer func() {
		// The session lock dies with the connection anyway; unlock so a pooled or
		// reused connection does not keep it.
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, lockKey)
	}()
	return fn()
}
