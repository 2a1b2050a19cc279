package odooapp_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/odooapp"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// installed returns a connection to a fresh Odoo 16 database with the sidecar
// migrated, Odoo metadata included.
func installed(t *testing.T) *pgx.Conn {
	t.Helper()
	return pgtest.NewDB(t, pgtest.Sidecar).Conn(t)
}

// mustRows runs a query whose rows are one text each.
func mustRows(t *testing.T, conn *pgx.Conn, sql string, args ...any) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("query %q: %v", sql, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("query %q: %v", sql, err)
	}
	return out
}

func mustExec(t *testing.T, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("exec %q: %v", sql, err)
	}
}

// irSnapshot is every row of every ir_* table (plus the many2many tables Install
// writes), one line per row, sorted: a row-level picture of Odoo's metadata.
func irSnapshot(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	tables := mustRows(t, conn, `
		SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind = 'r' AND (c.relname LIKE 'ir\_%' OR c.relname LIKE '%\_group\_rel')
		ORDER BY 1`)
	var lines []string
	for _, table := range tables {
		// ONLY: ir_actions' children are listed on their own.
		rows := mustRows(t, conn, fmt.Sprintf(`SELECT %s || ' ' || t::text FROM ONLY %s t`,
			quoteLiteral(table), pgx.Identifier{table}.Sanitize()))
		lines = append(lines, rows...)
	}
	if len(lines) < 10000 {
		t.Fatalf("ir_* snapshot has only %d rows: the query misses Odoo's metadata", len(lines))
	}
	sort.Strings(lines)
	return lines
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// allFields are the sidecar's models' fields and the flags, as Install defines them.
func allFields() []odooapp.Field {
	var fields []odooapp.Field
	for _, m := range odooapp.Models {
		fields = append(fields, m.Fields...)
	}
	return append(fields, odooapp.FlagFields...)
}

func tableOf(model string) string { return odooapp.Model{Name: model}.Table() }

// magic are the columns and fields Odoo adds to every model itself.
var magic = map[string]bool{"id": true, "create_uid": true, "create_date": true, "write_uid": true, "write_date": true,
	"display_name": true, "__last_update": true}
