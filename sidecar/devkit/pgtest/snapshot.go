package pgtest

import (
	"context"
	"sort"
	"testing"

	"github.com/jackc/pgx/v5"
)

// schemaSnapshotQuery lists, one line per object, what `pg_dump --schema-only` would
// show of user schemas: relations, columns with type/nullability/default, constraints,
// indexes, triggers, functions and schemas themselves.
const schemaSnapshotQuery = `
WITH user_ns AS (
    SELECT oid, nspname FROM pg_namespace
    WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\_toast%' AND nspname NOT LIKE 'pg\_temp%'
)
SELECT 'schema ' || nspname FROM user_ns
UNION ALL
SELECT 'relation ' || n.nspname || '.' || c.relname || ' kind=' || c.relkind::text
FROM pg_class c JOIN user_ns n ON n.oid = c.relnamespace
UNION ALL
SELECT 'column ' || n.nspname || '.' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
    || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
    || COALESCE(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN user_ns n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'v', 'm', 'p')
UNION ALL
SELECT 'constraint ' || n.nspname || '.' || c.relname || ' ' || k.conname || ' ' || pg_get_constraintdef(k.oid)
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN user_ns n ON n.oid = c.relnamespace
UNION ALL
SELECT 'index ' || pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN user_ns n ON n.oid = c.relnamespace
UNION ALL
SELECT 'trigger ' || c.relname || ' ' || pg_get_triggerdef(t.oid)
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN user_ns n ON n.oid = c.relnamespace
WHERE NOT t.tgisinternal
UNION ALL
SELECT 'function ' || n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'
FROM pg_proc p JOIN user_ns n ON n.oid = p.pronamespace`

// SchemaSnapshot returns the schema of the database, a sorted line per object, for
// tests that check a change leaves it as it was.
func SchemaSnapshot(tb testing.TB, conn *pgx.Conn) []string {
	tb.Helper()
	rows, err := conn.Query(context.Background(), schemaSnapshotQuery)
	if err != nil {
		tb.Fatalf("pgtest: schema snapshot: %v", err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		tb.Fatalf("pgtest: schema snapshot: %v", err)
	}
	sort.Strings(lines) // Go's byte order, which Diff relies on, not the server's collation
	return lines
}

// Diff returns the lines only in a ("- ...") and only in b ("+ ..."); both sorted.
func Diff(a, b []string) []string {
	var out []string
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i] < b[j]):
			out = append(out, "- "+a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			out = append(out, "+ "+b[j])
			j++
		default:
			i++
			j++
		}
	}
	return out
}
