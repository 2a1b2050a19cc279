// Package pgtest gives tests their own real PostgreSQL database holding a real Odoo 16
// schema and rows. A template database is built once per content (Odoo 16 schema,
// demo rows, and optionally the sidecar installed) and each test gets a clone of it,
// created in about a quarter of a second and dropped when the test ends, so tests
// run in parallel without seeing each other.
//
// The server is TEST_DATABASE_URL, else the one at 127.0.0.1:5432, else a throwaway
// cluster started from the local PostgreSQL binaries (initdb, pg_ctl) in a temporary
// directory on a free port, stopped by Main when the tests end.
package pgtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgcluster"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgdump"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/install"
)

// Template is what a new test database holds.
type Template int

const (
	// Odoo is the Odoo 16 schema with the demo rows (partners, orders, invoices,
	// payments), without the sidecar.
	Odoo Template = iota
	// Sidecar is Odoo with `whatsapp-sidecar migrate` applied.
	Sidecar
)

func (t Template) String() string {
	if t == Sidecar {
		return "sidecar"
	}
	return "odoo"
}

// Main runs the tests of a package that uses pgtest, then stops the throwaway cluster
// if one was started and checks that no goroutine leaked. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if cluster != nil {
		cluster.Stop()
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// DB is one test's database.
type DB struct {
	Name string
	URL  string

	mu   sync.Mutex
	pool *pgxpool.Pool
}

var (
	dbCounter  atomic.Int64
	serverOnce sync.Once
	server     string
	serverErr  error
	cluster    *pgcluster.Cluster
)

// serverURL returns the admin URL of the server the tests use: TEST_DATABASE_URL,
// else 127.0.0.1:5432, else a throwaway cluster (PGTEST_THROWAWAY=1 forces it).
func serverURL(ctx context.Context) (string, error) {
	serverOnce.Do(func() {
		server, cluster, serverErr = pgcluster.Find(ctx, os.Getenv("TEST_DATABASE_URL"), os.Getenv("PGTEST_THROWAWAY") != "")
		if cluster != nil {
			fmt.Fprintf(os.Stderr, "pgtest: no PostgreSQL at 127.0.0.1:5432, started a throwaway cluster at %s\n", server)
		}
	})
	return server, serverErr
}

// NewDB creates a database cloned from the template and drops it when tb ends.
func NewDB(tb testing.TB, tpl Template) *DB {
	tb.Helper()
	ctx := context.Background()
	server, err := serverURL(ctx)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	template, err := ensureTemplate(ctx, server, tpl)
	if err != nil {
		tb.Fatalf("pgtest: template %s: %v", tpl, err)
	}
	name := fmt.Sprintf("wa_test_%d_%d", os.Getpid(), dbCounter.Add(1))
	if err := cloneDatabase(ctx, server, template, name); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	db := &DB{Name: name, URL: withDatabase(server, name)}
	tb.Cleanup(func() {
		db.mu.Lock()
		if db.pool != nil {
			db.pool.Close()
		}
		db.mu.Unlock()
		if err := dropDatabase(context.Background(), server, name); err != nil {
			tb.Errorf("pgtest: %v", err)
		}
	})
	return db
}

// Pool returns a pool on the database, closed when the test ends.
func (db *DB) Pool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.pool == nil {
		pool, err := pgxpool.New(context.Background(), db.URL)
		if err != nil {
			tb.Fatalf("pgtest: open pool: %v", err)
		}
		db.pool = pool
	}
	return db.pool
}

// Conn opens a single connection, closed when the test ends.
func (db *DB) Conn(tb testing.TB) *pgx.Conn {
	tb.Helper()
	conn, err := pgx.Connect(context.Background(), db.URL)
	if err != nil {
		tb.Fatalf("pgtest: connect: %v", err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// Exec runs sql on the database and fails the test on error.
func (db *DB) Exec(tb testing.TB, sql string, args ...any) pgconn.CommandTag {
	tb.Helper()
	tag, err := db.Pool(tb).Exec(context.Background(), sql, args...)
	if err != nil {
		tb.Fatalf("pgtest: exec %q: %v", sql, err)
	}
	return tag
}

// QueryRow scans one row into dest and fails the test on error.
func (db *DB) QueryRow(tb testing.TB, dest []any, sql string, args ...any) {
	tb.Helper()
	if err := db.Pool(tb).QueryRow(context.Background(), sql, args...).Scan(dest...); err != nil {
		tb.Fatalf("pgtest: query %q: %v", sql, err)
	}
}

// RepoRoot is the directory holding go.mod, found from the test's working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// OdooFile is the path of a file of testdata/odoo16 (schema.sql, demo_data.sql.gz,
// orm_trace.sql).
func OdooFile(name string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "testdata", "odoo16", name), nil
}

var templates sync.Map // Template -> *templateOnce

// keepTemplates is how many older templates of a kind survive a new build.
const keepTemplates = 4

type templateOnce struct {
	once sync.Once
	name string
	err  error
}

// ensureTemplate builds the template database once per content and process; other
// processes (go test runs packages in parallel) wait on an advisory lock and reuse it.
func ensureTemplate(ctx context.Context, server string, tpl Template) (string, error) {
	v, _ := templates.LoadOrStore(tpl, &templateOnce{})
	t := v.(*templateOnce)
	t.once.Do(func() { t.name, t.err = buildTemplate(ctx, server, tpl) })
	return t.name, t.err
}

func fingerprint(tpl Template) (string, error) {
	h := sha256.New()
	for _, name := range []string{"schema.sql", "demo_data.sql.gz"} {
		path, err := OdooFile(name)
		if err != nil {
			return "", err
		}
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", err
		}
	}
	if tpl == Sidecar {
		h.Write([]byte(install.Fingerprint()))
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

func buildTemplate(ctx context.Context, server string, tpl Template) (string, error) {
	sum, err := fingerprint(tpl)
	if err != nil {
		return "", fmt.Errorf("fingerprint: %w", err)
	}
	name := fmt.Sprintf("wa_tpl_%s_%s", tpl, sum)
	var base string
	if tpl == Sidecar {
		// Before taking the lock: building the base takes it too.
		if base, err = ensureTemplate(ctx, server, Odoo); err != nil {
			return "", err
		}
	}
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `SELECT pg_advisory_lock(hashtext('whatsapp_sidecar.pgtest'))`); err != nil {
		return "", fmt.Errorf("lock: %w", err)
	}
	defer admin.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtext('whatsapp_sidecar.pgtest'))`)

	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	start := time.Now()
	building := name + "_build"
	if err := dropDatabase(ctx, server, building); err != nil {
		return "", err
	}
	if tpl == Odoo {
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{building}.Sanitize()); err != nil {
			return "", fmt.Errorf("create %s: %w", building, err)
		}
	} else {
		if err := cloneDatabase(ctx, server, base, building); err != nil {
			return "", err
		}
	}
	if err := fill(ctx, withDatabase(server, building), tpl); err != nil {
		return "", err
	}
	// Older templates of the same kind are stale content: drop them, but keep the
	// newest few, which test runs of other checkouts (another branch, another
	// content) may be cloning on the same server right now.
	rows, err := admin.Query(ctx, `SELECT datname FROM pg_database WHERE datname LIKE $1 AND datname <> $2
		ORDER BY oid DESC OFFSET $3`, fmt.Sprintf("wa\\_tpl\\_%s\\_%%", tpl), building, keepTemplates)
	if err != nil {
		return "", err
	}
	stale, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", err
	}
	for _, old := range stale {
		_, _ = admin.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{old}.Sanitize()+" IS_TEMPLATE false")
		_ = dropDatabase(ctx, server, old)
	}
	// Rename last: a template that exists is complete.
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{building}.Sanitize()+" RENAME TO "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("rename %s: %w", building, err)
	}
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{name}.Sanitize()+" IS_TEMPLATE true"); err != nil {
		return "", fmt.Errorf("mark %s as template: %w", name, err)
	}
	fmt.Fprintf(os.Stderr, "pgtest: built template %s in %s\n", name, time.Since(start).Round(time.Millisecond))
	return name, nil
}

func fill(ctx context.Context, url string, tpl Template) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	if tpl == Sidecar {
		if _, err := install.Migrate(ctx, conn); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		return nil
	}
	for _, name := range []string{"schema.sql", "demo_data.sql.gz"} {
		path, err := OdooFile(name)
		if err != nil {
			return err
		}
		if err := pgdump.RestoreFile(ctx, conn, path); err != nil {
			return err
		}
	}
	return nil
}

func cloneDatabase(ctx context.Context, server, template, name string) error {
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer admin.Close(ctx)
	// PostgreSQL 15's default strategy (WAL_LOG) measured faster here than FILE_COPY
	// for this 47 MB database (0.55 s against 0.86 s): FILE_COPY waits for checkpoints.
	stmt := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize() + " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	for attempt := 0; ; attempt++ {
		_, err = admin.Exec(ctx, stmt)
		var pgErr *pgconn.PgError
		// 55006: the template is briefly in use (another clone is starting).
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "55006" || attempt == 50 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("clone %s into %s: %w", template, name, err)
	}
	return nil
}

func dropDatabase(ctx context.Context, server, name string) error {
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// withDatabase returns server's URL pointing at another database.
func withDatabase(server, name string) string {
	u, err := url.Parse(server)
	if err != nil {
		return server
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}

// Eventually waits for cond, checking it as the system reports progress (a row, a
// request at the emulator); the deadline only bounds a failing test.
func Eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	EventuallyWhileMoving(tb, what, cond, nil)
}

// EventuallyWhileMoving waits for cond like Eventually, but fails only after a
// minute in which state, the system's progress as the test sees it, did not
// change: a slow machine (a loaded CI runner, the race detector) finishes a long
// job late; a stuck system fails with its last state.
func EventuallyWhileMoving(tb testing.TB, what string, cond func() bool, state func() string) {
	tb.Helper()
	const still = 60 * time.Second
	last, deadline := "", time.Now().Add(still)
	for !cond() {
		if state != nil {
			if now := state(); now != last {
				last, deadline = now, time.Now().Add(still)
			}
		}
		if time.Now().After(deadline) {
			if last != "" {
				tb.Fatalf("timed out waiting for %s: no progress for %s at %s", what, still, last)
			}
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
