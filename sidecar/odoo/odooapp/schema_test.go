package odooapp_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/odooapp"
)

// columnTypes are the PostgreSQL types Odoo 16 gives each field type (its
// column_type), by udt_name.
var columnTypes = map[string]string{
	"char": "varchar", "selection": "varchar", "text": "text", "html": "text",
	"boolean": "bool", "integer": "int4", "many2one": "int4", "datetime": "timestamp",
}

type column struct {
	udt     string
	notNull bool
}

func columnsOf(t *testing.T, conn *pgx.Conn, table string) map[string]column {
	t.Helper()
	rows, err := conn.Query(context.Background(), `
		SELECT column_name::text, udt_name::text, is_nullable = 'NO' FROM information_schema.columns
		WHERE table_schema = 'public' AND table_name = $1`, table)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]column{}
	for rows.Next() {
		var name string
		var c column
		if err := rows.Scan(&name, &c.udt, &c.notNull); err != nil {
			t.Fatal(err)
		}
		out[name] = c
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Every column of a sidecar table is a registered field of a compatible type and
// every registered stored field a column: an unregistered NOT NULL column would lose
// its constraint on `odoo -u`, a field without a column breaks every read.
func TestEveryColumnIsAFieldAndEveryFieldAColumn(t *testing.T) {
	t.Parallel()
	conn := installed(t)
	for _, m := range odooapp.Models {
		t.Run(m.Name, func(t *testing.T) {
			columns := columnsOf(t, conn, m.Table())
			registered := map[string]string{}
			for _, row := range mustRows(t, conn, `SELECT name || ' ' || ttype FROM ir_model_fields WHERE model = $1 AND state = 'manual'`, m.Name) {
				name, ttype, _ := strings.Cut(row, " ")
				registered[name] = ttype
			}
			for name, c := range columns {
				if magic[name] {
					continue
				}
				ttype, ok := registered[name]
				if !ok {
					t.Errorf("column %s.%s (%s) has no field in ir_model_fields: Odoo cannot show it", m.Table(), name, c.udt)
					continue
				}
				if columnTypes[ttype] != c.udt {
					t.Errorf("column %s.%s is %s but its field is a %s (Odoo would convert it to %s)", m.Table(), name, c.udt, ttype, columnTypes[ttype])
				}
			}
			for _, f := range m.Fields {
				if _, ok := registered[f.Name]; !ok {
					t.Errorf("field %s.%s is not registered", m.Name, f.Name)
				}
				c, ok := columns[f.Name]
				if f.Stored() != ok {
					t.Errorf("field %s.%s: stored=%v but column exists=%v", m.Name, f.Name, f.Stored(), ok)
				}
				if ok && c.notNull != f.Required {
					t.Errorf("field %s.%s: required=%v but column NOT NULL=%v (Odoo would change the column)", m.Name, f.Name, f.Required, c.notNull)
				}
			}
			for _, name := range []string{"create_uid", "create_date", "write_uid", "write_date"} {
				if _, ok := columns[name]; !ok {
					t.Errorf("table %s lacks the magic column %s: Odoo's create and read fail", m.Table(), name)
				}
			}
		})
	}
	t.Run("flags", func(t *testing.T) {
		for _, f := range odooapp.FlagFields {
			c, ok := columnsOf(t, conn, tableOf(f.Model))[f.Name]
			if !ok || columnTypes[f.Type] != c.udt {
				t.Errorf("flag %s.%s: column %+v (exists %v), want %s", f.Model, f.Name, c, ok, columnTypes[f.Type])
			}
		}
	})
}

// odooDDL is what Odoo 16 runs on a model's table when it updates its schema
// (`odoo -u`, or a manual field edited in Settings, which also updates the custom
// fields): per stored field, the column with its type (update_db_column), NOT NULL
// exactly on required fields (update_db_notnull), a foreign key per many2one with
// ON DELETE from on_delete, re-created where it differs (check_foreign_keys), an
// index <table>_<field>_index for an indexed field (check_indexes), and the magic
// columns with their foreign keys to res_users. Written unconditionally, in the form
// Odoo would leave the schema: if it matches already, nothing changes.
func odooDDL(fields []odooapp.Field, models []odooapp.Model) []string {
	var ddl []string
	column := func(table, name, typ string, required bool) {
		t := pgx.Identifier{table}.Sanitize()
		c := pgx.Identifier{name}.Sanitize()
		ddl = append(ddl,
			fmt.Sprintf("ALTER TABLE %s ADD COLUMN IF NOT EXISTS %s %s", t, c, typ),
			// Odoo converts a column only when its type differs (update_db_column).
			fmt.Sprintf(`DO $$ BEGIN IF (SELECT udt_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s AND column_name = %s) <> %s
				THEN ALTER TABLE %s ALTER COLUMN %s TYPE %s; END IF; END $$`, quoteLiteral(table), quoteLiteral(name), quoteLiteral(typ), t, c, typ))
		if required {
			ddl = append(ddl, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s SET NOT NULL", t, c))
		} else {
			ddl = append(ddl, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL", t, c))
		}
	}
	foreignKey := func(table, name, target, onDelete string) {
		// Drop whatever key the column has, add Odoo's (unnamed: PostgreSQL names it
		// <table>_<column>_fkey, as Odoo's sql.add_foreign_key leaves it).
		ddl = append(ddl, fmt.Sprintf(`DO $$ DECLARE k text; BEGIN
			SELECT c.conname INTO k FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
			WHERE c.contype = 'f' AND c.conrelid = %s::regclass AND a.attname = %s;
			IF k IS NOT NULL THEN EXECUTE format('ALTER TABLE %%I DROP CONSTRAINT %%I', %s, k); END IF; END $$`,
			quoteLiteral(table), quoteLiteral(name), quoteLiteral(table)),
			fmt.Sprintf("ALTER TABLE %s ADD FOREIGN KEY (%s) REFERENCES %s(id) ON DELETE %s",
				pgx.Identifier{table}.Sanitize(), pgx.Identifier{name}.Sanitize(), pgx.Identifier{target}.Sanitize(), strings.ToUpper(onDelete)))
	}
	for _, m := range models {
		table := m.Table()
		column(table, "create_uid", "int4", false)
		column(table, "create_date", "timestamp", false)
		column(table, "write_uid", "int4", false)
		column(table, "write_date", "timestamp", false)
		foreignKey(table, "create_uid", "res_users", "set null")
		foreignKey(table, "write_uid", "res_users", "set null")
	}
	for _, f := range fields {
		if !f.Stored() {
			continue
		}
		table := tableOf(f.Model)
		column(table, f.Name, columnTypes[f.Type], f.Required)
		if f.Type == "many2one" {
			foreignKey(table, f.Name, tableOf(f.Relation), f.OnDelete)
		}
		if f.Index {
			ddl = append(ddl, fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (%s)",
				pgx.Identifier{table + "_" + f.Name + "_index"}.Sanitize(), pgx.Identifier{table}.Sanitize(), pgx.Identifier{f.Name}.Sanitize()))
		}
	}
	return ddl
}

// `odoo -u all`, or an administrator editing a field in Settings > Technical, runs the
// DDL above on the sidecar's tables and the flag columns: it must change nothing.
func TestOdooSchemaUpdateChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := installed(t)
	before := pgtest.SchemaSnapshot(t, conn)
	ddl := odooDDL(allFields(), odooapp.Models)
	if len(ddl) < 100 {
		t.Fatalf("only %d DDL statements: the field table looks empty", len(ddl))
	}
	for _, stmt := range ddl {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if diff := pgtest.Diff(before, pgtest.SchemaSnapshot(t, conn)); len(diff) > 0 {
		t.Errorf("the schema update Odoo would run changed the schema:\n%s", strings.Join(diff, "\n"))
	}
}

// The test above must be able to fail: a column shaped differently from its field
// (NOT NULL on an optional field, a foreign key with another ON DELETE) shows up.
func TestOdooSchemaUpdateSeesAMisshapedColumn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := installed(t)
	mustExec(t, conn, `ALTER TABLE whatsapp_message ALTER COLUMN phone SET NOT NULL`)
	mustExec(t, conn, `ALTER TABLE whatsapp_message DROP CONSTRAINT whatsapp_message_contact_id_fkey,
		ADD CONSTRAINT whatsapp_message_contact_id_fkey FOREIGN KEY (contact_id) REFERENCES res_partner(id) ON DELETE CASCADE`)
	before := pgtest.SchemaSnapshot(t, conn)
	for _, stmt := range odooDDL(allFields(), odooapp.Models) {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	diff := strings.Join(pgtest.Diff(before, pgtest.SchemaSnapshot(t, conn)), "\n")
	for _, want := range []string{"whatsapp_message.phone character varying not null", "ON DELETE CASCADE"} {
		if !strings.Contains(diff, want) {
			t.Errorf("diff does not show %q:\n%s", want, diff)
		}
	}
}
