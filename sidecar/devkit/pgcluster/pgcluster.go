// Package pgcluster finds a PostgreSQL server to work with, or starts a throwaway
// one: for the tests and the demo on a machine where PostgreSQL is installed but no
// server runs. The throwaway cluster lives in a temporary directory, listens only on
// a Unix socket there (no TCP port another process could take, even across a
// restart), trusts local connections, skips fsync, and is removed by Stop.
package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultURL is the local server tried first: Debian's PostgreSQL with trust auth
// on loopback.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Cluster is a throwaway server started by Find.
type Cluster struct {
	dir   string
	bin   string
	url   string
	opts  string // the server options, kept for a restart
	runAs *syscall.Credential
}

// Find returns the admin URL (database postgres, superuser) of: url when not
// empty, else DefaultURL when it answers, else a throwaway cluster it starts. The
// returned Cluster is nil unless one was started; the caller must Stop it.
// forceThrowaway skips DefaultURL (to test the fallback on a machine that has one).
func Find(ctx context.Context, url string, forceThrowaway bool) (string, *Cluster, error) {
	if url != "" {
		return url, nil, nil
	}
	if !forceThrowaway && Answers(ctx, DefaultURL) {
		return DefaultURL, nil, nil
	}
	c, err := Start(ctx)
	if err != nil {
		return "", nil, err
	}
	return c.url, c, nil
}

// Answers says whether a server accepts a connection at url within 3 s.
func Answers(ctx context.Context, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return false
	}
	conn.Close(ctx)
	return true
}

// Start runs initdb and pg_ctl from the newest local PostgreSQL in a temporary
// directory, on a Unix socket in that directory, tuned for tests (no fsync).
func Start(ctx context.Context) (*Cluster, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	// A Unix socket's path is at most 107 bytes: a long TMPDIR would not fit.
	base := os.TempDir()
	if len(base) > 64 {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "whatsapp-sidecar-pgtest-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, bin: bin}
	// initdb refuses to run as root: run the server as the postgres (or nobody) user.
	if os.Geteuid() == 0 {
		cred, err := unprivileged()
		if err != nil {
			return nil, err
		}
		c.runAs = cred
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := c.run(ctx, "initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w: %s", err, out)
	}
	c.opts = fmt.Sprintf("-c listen_addresses='' -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300", dir)
	if err := c.start(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c.url = "postgres://postgres@/postgres?host=" + url.QueryEscape(dir) + "&sslmode=disable"
	return c, nil
}

func (c *Cluster) start(ctx context.Context) error {
	data := filepath.Join(c.dir, "data")
	if out, err := c.run(ctx, "pg_ctl", "-D", data, "-l", filepath.Join(c.dir, "server.log"), "-o", c.opts, "-w", "-t", "60", "start"); err != nil {
		return fmt.Errorf("pg_ctl start: %w: %s", err, out)
	}
	return nil
}

// Restart stops the server as a crash or a failover does (immediate: every
// connection cut, no checkpoint) and starts it again on the same socket.
func (c *Cluster) Restart(ctx context.Context) error {
	if out, err := c.run(ctx, "pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "-w", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop: %w: %s", err, out)
	}
	return c.start(ctx)
}

// URL is the cluster's admin URL.
func (c *Cluster) URL() string { return c.url }

// Stop stops the server and removes its directory.
func (c *Cluster) Stop() {
	_, _ = c.run(context.Background(), "pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "-w", "stop")
	_ = os.RemoveAll(c.dir)
}

func (c *Cluster) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	if c.runAs != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.runAs}
	}
	return cmd.CombinedOutput()
}

// postgresBin finds the directory of initdb and pg_ctl: the newest
// /usr/lib/postgresql/*/bin (Debian), else the PATH.
func postgresBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	if path, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(path), nil
	}
	return "", errors.New("no PostgreSQL server at 127.0.0.1:5432 and no initdb to start one: install PostgreSQL (Debian: apt-get install postgresql) or set TEST_DATABASE_URL")
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func unprivileged() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root and no postgres or nobody user to run initdb as")
}
