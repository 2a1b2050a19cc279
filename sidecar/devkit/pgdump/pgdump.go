// Package pgdump restores plain-format pg_dump output (schema and data, COPY blocks
// included) through pgx, so tests and the demo need neither psql nor a shell.
package pgdump

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"
)

// RestoreFile restores path into conn; a name ending in .gz is gunzipped.
func RestoreFile(ctx context.Context, conn *pgx.Conn, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("restore %s: %w", path, err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return fmt.Errorf("restore %s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	if err := Restore(ctx, conn, r); err != nil {
		return fmt.Errorf("restore %s: %w", path, err)
	}
	return nil
}

// Restore runs a plain pg_dump script. SQL between COPY blocks goes to the server as
// one multi-statement simple query (so function bodies with semicolons are left
// whole); each `COPY ... FROM stdin;` block streams through the COPY protocol. psql
// meta-commands (\restrict, \unrestrict, which recent pg_dump writes) are skipped.
func Restore(ctx context.Context, conn *pgx.Conn, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var pending strings.Builder
	flush := func() error {
		if strings.TrimSpace(pending.String()) == "" {
			pending.Reset()
			return nil
		}
		_, err := conn.PgConn().Exec(ctx, pending.String()).ReadAll()
		pending.Reset()
		return err
	}
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		switch {
		case strings.HasPrefix(text, `\`):
			continue
		case strings.HasPrefix(text, "COPY ") && strings.HasSuffix(text, "FROM stdin;"):
			if err := flush(); err != nil {
				return fmt.Errorf("before line %d: %w", line, err)
			}
			start := line
			var data bytes.Buffer
			for {
				if !sc.Scan() {
					return fmt.Errorf("line %d: COPY block without its \\. terminator", start)
				}
				line++
				if sc.Text() == `\.` {
					break
				}
				data.Write(sc.Bytes())
				data.WriteByte('\n')
			}
			if _, err := conn.PgConn().CopyFrom(ctx, &data, text); err != nil {
				return fmt.Errorf("line %d: %s: %w", start, strings.TrimSuffix(text, " FROM stdin;"), err)
			}
		default:
			pending.WriteString(text)
			pending.WriteByte('\n')
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read line %d: %w", line+1, err)
	}
	if err := flush(); err != nil {
		return fmt.Errorf("at end: %w", err)
	}
	return nil
}

// CreateDatabase (re)creates database name on the server at adminURL (a superuser
// URL) from the plain dumps schema.sql and demo_data.sql.gz of dumpDir, and returns
// the new database's URL.
func CreateDatabase(ctx context.Context, adminURL, name, dumpDir string) (string, error) {
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", adminURL, err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return "", fmt.Errorf("drop database %s: %w", name, err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", fmt.Errorf("server URL: %w", err)
	}
	u.Path = "/" + name
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, file := range []string{"schema.sql", "demo_data.sql.gz"} {
		if err := RestoreFile(ctx, conn, filepath.Join(dumpDir, file)); err != nil {
			return "", err
		}
	}
	return u.String(), nil
}
