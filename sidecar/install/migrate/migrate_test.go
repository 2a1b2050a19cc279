package migrate_test

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/install"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/install/migrate"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestEmbeddedMigrationsAreInOrder(t *testing.T) {
	migrations := migrate.Embedded()
	if len(migrations) == 0 || migrations[0].Version != 1 {
		t.Fatal("the first embedded migration must be version 1")
	}
	for i := 1; i < len(migrations); i++ {
		if migrations[i].Version <= migrations[i-1].Version {
			t.Errorf("migration %s comes after %s: versions must increase", migrations[i].Name, migrations[i-1].Name)
		}
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t, pgtest.Odoo)
	conn := db.Conn(t)

	first, err := install.Migrate(ctx, conn)
	if err != nil {
		t.Fatalf("first migrate: %v", err)
	}
	if !strings.Contains(strings.Join(first, "\n"), "applied migration 001_odoo_tables") {
		t.Errorf("first migrate report does not say what it applied:\n%s", strings.Join(first, "\n"))
	}
	after := pgtest.SchemaSnapshot(t, conn)

	second, err := install.Migrate(ctx, conn)
	if err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if !strings.Contains(second[0], "up to date") {
		t.Errorf("second migrate report = %q, want it to say the schema is up to date", second[0])
	}
	if diff := pgtest.Diff(after, pgtest.SchemaSnapshot(t, conn)); len(diff) > 0 {
		t.Errorf("second migrate changed the schema:\n%s", strings.Join(diff, "\n"))
	}
	if v, err := migrate.Version(ctx, conn); err != nil || v != migrate.Latest() {
		t.Errorf("Version = %d, %v; want %d", v, err, migrate.Latest())
	}
}

func TestMigrateConcurrentlyFromTwoProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t, pgtest.Odoo)
	conns := []*pgx.Conn{db.Conn(t), db.Conn(t), db.Conn(t)}

	var wg sync.WaitGroup
	errs := make([]error, len(conns))
	for i, conn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = install.Migrate(ctx, conn)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}
	var applied int
	if err := conns[0].QueryRow(ctx, `SELECT count(*) FROM whatsapp_sidecar.migration`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if applied != len(migrate.Embedded()) {
		t.Errorf("%d migrations recorded, want %d (each exactly once)", applied, len(migrate.Embedded()))
	}
}

// The same install/uninstall cycle twice: Odoo's schema and its ir_model_fields rows
// come back exactly as they were.
func TestUninstallDropDataLeavesOdooAsBefore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t, pgtest.Odoo)
	conn := db.Conn(t)
	before := pgtest.SchemaSnapshot(t, conn)
	fieldsBefore := irModelFields(t, conn)

	for round := 1; round <= 2; round++ {
		if _, err := install.Migrate(ctx, conn); err != nil {
			t.Fatalf("round %d: migrate: %v", round, err)
		}
		if got := irModelFields(t, conn); len(got) <= len(fieldsBefore) {
			t.Fatalf("round %d: migrate registered no field in ir_model_fields", round)
		}
		report, err := install.Uninstall(ctx, conn, true)
		if err != nil {
			t.Fatalf("round %d: uninstall: %v", round, err)
		}
		if diff := pgtest.Diff(before, pgtest.SchemaSnapshot(t, conn)); len(diff) > 0 {
			t.Fatalf("round %d: uninstall --drop-data left the schema changed:\n%s\nreport:\n%s",
				round, strings.Join(diff, "\n"), strings.Join(report, "\n"))
		}
		if diff := pgtest.Diff(fieldsBefore, irModelFields(t, conn)); len(diff) > 0 {
			t.Fatalf("round %d: ir_model_fields changed:\n%s", round, strings.Join(diff, "\n"))
		}
	}
}

func TestUninstallKeepsDataByDefault(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t, pgtest.Sidecar)
	conn := db.Conn(t)
	if _, err := conn.Exec(ctx, `INSERT INTO whatsapp_message (direction, phone, content, status) VALUES ('out', '+221771234567', 'kept', 'sent')`); err != nil {
		t.Fatal(err)
	}
	if _, err := install.Uninstall(ctx, conn, false); err != nil {
		t.Fatalf("uninstall: %v", err)
	}
	var triggers, schemas, kept int
	if err := conn.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'whatsapp_sidecar%'),
		       (SELECT count(*) FROM pg_namespace WHERE nspname = 'whatsapp_sidecar'),
		       (SELECT count(*) FROM whatsapp_message WHERE content = 'kept')`).Scan(&triggers, &schemas, &kept); err != nil {
		t.Fatal(err)
	}
	if triggers != 0 || schemas != 0 || kept != 1 {
		t.Errorf("after uninstall: %d triggers, %d sidecar schema, %d kept messages; want 0, 0, 1", triggers, schemas, kept)
	}
	// Odoo keeps working without the triggers, and a later migrate adopts the tables.
	if _, err := conn.Exec(ctx, `UPDATE sale_order SET state = 'sent' WHERE id = 25`); err != nil {
		t.Fatalf("Odoo write after uninstall: %v", err)
	}
	if _, err := install.Migrate(ctx, conn); err != nil {
		t.Fatalf("migrate after uninstall: %v", err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM whatsapp_message WHERE content = 'kept'`).Scan(&kept); err != nil || kept != 1 {
		t.Errorf("message lost by re-migrate: count %d, %v", kept, err)
	}
}

func TestFlagColumnsMatchTheMigration(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, pgtest.Sidecar)
	rows, err := db.Pool(t).Query(context.Background(), `
		SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = 'public' AND column_name LIKE 'x\_whatsapp\_%'`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for rows.Next() {
		var table, column string
		if err := rows.Scan(&table, &column); err != nil {
			t.Fatal(err)
		}
		got[table+"."+column] = true
	}
	want := map[string]bool{}
	for table, columns := range migrate.FlagColumns {
		for _, c := range columns {
			want[table+"."+c] = true
			if !got[table+"."+c] {
				t.Errorf("migrate.FlagColumns lists %s.%s, the migration does not add it", table, c)
			}
		}
	}
	for c := range got {
		if !want[c] {
			t.Errorf("the migration adds %s, migrate.FlagColumns (what uninstall drops) misses it", c)
		}
	}
}

func irModelFields(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT model || '.' || name || ' ' || ttype || ' ' || state FROM ir_model_fields ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return lines
}

// Clicks recorded before migration 035 read "[Bouton : id] title": after it, they
// read as the title the customer tapped, their id in button_id; other rows stay.
func TestClicksRecordedBeforeReadAsTheirTitle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t, pgtest.Odoo)
	conn := db.Conn(t)
	var before []migrate.Migration
	for _, m := range migrate.Embedded() {
		if m.Version < 35 {
			before = append(before, m)
		}
	}
	if _, err := migrate.Up(ctx, conn, migrate.Options{Migrations: before}); err != nil {
		t.Fatal(err)
	}
	_, err := conn.Exec(ctx, `INSERT INTO whatsapp_message (direction, status, message_type, content) VALUES
		('in', 'received', 'interactive', '[Bouton : btn_validate_order_26] Valider'),
		('in', 'received', 'interactive', '[Liste : priority_express] Priority Mail — Next Day'),
		('in', 'received', 'button', '[Bouton : STOP]'),
		('in', 'received', 'text', '[Bouton : a] typed by the customer'),
		('out', 'sent', 'interactive', 'Bonjour')`)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the migration may run again after an uninstall that kept the data
		if _, err := migrate.Up(ctx, conn, migrate.Options{}); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, `DELETE FROM whatsapp_sidecar.migration WHERE version = 35`); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := conn.Query(ctx, `SELECT content, COALESCE(button_id, '') FROM whatsapp_message ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
		var v [2]string
		return v, r.Scan(&v[0], &v[1])
	})
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{
		{"Valider", "btn_validate_order_26"},
		{"Priority Mail — Next Day", "priority_express"},
		{"STOP", "STOP"},
		{"[Bouton : a] typed by the customer", ""},
		{"Bonjour", ""},
	}
	for i := range want {
		if i >= len(got) || got[i] != want[i] {
			t.Errorf("row %d = %q, want %q", i, got, want[i])
		}
	}
}
