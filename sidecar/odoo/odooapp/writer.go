package odooapp

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// mode says how far a write goes: Install asserts every row as defined here; the
// start-up check only puts back what is missing, so it never undoes a label or a
// menu sequence that an administrator changed in Odoo.
type mode int

const (
	assertAll mode = iota
	repairMissing
)

type outcome int

const (
	unchanged outcome = iota
	created
	updated
)

// tally counts, per ir_* table, what a run wrote; lines name the rows a repair
// re-created and what was skipped.
type tally struct {
	tables   []string
	counts   map[string]*[3]int
	repaired []string
	warnings []string
}

func newTally() *tally { return &tally{counts: map[string]*[3]int{}} }

func (t *tally) add(table string, o outcome, what string) {
	c, ok := t.counts[table]
	if !ok {
		c = &[3]int{}
		t.counts[table] = c
		t.tables = append(t.tables, table)
	}
	c[o]++
	if o == created && what != "" {
		t.repaired = append(t.repaired, fmt.Sprintf("re-created %s %s", table, what))
	}
}

func (t *tally) warn(format string, args ...any) {
	t.warnings = append(t.warnings, fmt.Sprintf(format, args...))
}

// changed is the number of rows created or updated.
func (t *tally) changed() int {
	n := 0
	for _, c := range t.counts {
		n += c[created] + c[updated]
	}
	return n
}

// lines reports a table per line: "ir_ui_view: 21 rows (21 created)".
func (t *tally) lines() []string {
	var out []string
	for _, table := range t.tables {
		c := t.counts[table]
		line := fmt.Sprintf("%s: %d rows", table, c[unchanged]+c[created]+c[updated])
		var parts []string
		if c[created] > 0 {
			parts = append(parts, fmt.Sprintf("%d created", c[created]))
		}
		if c[updated] > 0 {
			parts = append(parts, fmt.Sprintf("%d updated", c[updated]))
		}
		if len(parts) == 0 {
			parts = append(parts, "unchanged")
		}
		out = append(out, line+" ("+strings.Join(parts, ", ")+")")
	}
	return out
}

// col is one column of a row to write. cast is the SQL type of the parameter; a
// merged jsonb column keeps the languages Odoo users added next to en_US and fr_FR.
type col struct {
	name  string
	cast  string
	val   any
	merge bool
}

func text(name string, v string) col  { return col{name: name, cast: "varchar", val: v} }
func integer(name string, v int) col  { return col{name: name, cast: "int4", val: v} }
func boolean(name string, v bool) col { return col{name: name, cast: "bool", val: v} }
func null(name, cast string) col      { return col{name: name, cast: cast} }

// ref is an int4 column holding an id, NULL when id is 0.
func ref(name string, id int) col {
	if id == 0 {
		return null(name, "int4")
	}
	return integer(name, id)
}

// translated is a jsonb translation column ({"en_US": ..., "fr_FR": ...}), merged.
func translated(name, en, fr string) col {
	if en == "" {
		return null(name, "jsonb")
	}
	return col{name: name, cast: "jsonb", val: translations(en, fr), merge: true}
}

func translations(en, fr string) string {
	m := map[string]string{"en_US": en}
	if fr != "" {
		m["fr_FR"] = fr
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func (c col) expr(i int, alias string) string {
	if c.merge {
		return fmt.Sprintf("COALESCE(%s.%s, '{}'::jsonb) || $%d::jsonb", alias, quote(c.name), i)
	}
	return fmt.Sprintf("$%d::%s", i, c.cast)
}

func quote(name string) string { return pgx.Identifier{name}.Sanitize() }

// record is a row identified by an external id whatsapp_sidecar.<xmlid>.
type record struct {
	xmlid string
	model string // Odoo model of the row, e.g. "ir.ui.view"
	table string
	cols  []col
}

const nowUTC = `(now() AT TIME ZONE 'utc')`

// upsertRecord writes rec and its ir_model_data row and returns the row's id. An
// unchanged row is not touched (its write_date stays), so a second run changes
// nothing.
func upsertRecord(ctx context.Context, tx pgx.Tx, rec record, m mode, t *tally) (int, outcome, error) {
	id, err := xmlidRow(ctx, tx, Module+"."+rec.xmlid, rec.table)
	if err != nil {
		return 0, unchanged, err
	}
	args := make([]any, len(rec.cols))
	for i, c := range rec.cols {
		args[i] = c.val
	}
	if id != 0 {
		if m == repairMissing {
			t.add(rec.table, unchanged, "")
			return id, unchanged, nil
		}
		var sets, olds, news []string
		for i, c := range rec.cols {
			e := c.expr(i+1, "t")
			sets = append(sets, quote(c.name)+" = "+e)
			olds = append(olds, "t."+quote(c.name))
			news = append(news, e)
		}
		stmt := fmt.Sprintf(`UPDATE %s t SET %s, write_uid = 1, write_date = %s WHERE t.id = $%d AND ROW(%s) IS DISTINCT FROM ROW(%s)`,
			quote(rec.table), strings.Join(sets, ", "), nowUTC, len(args)+1, strings.Join(olds, ", "), strings.Join(news, ", "))
		tag, err := tx.Exec(ctx, stmt, append(args, id)...)
		if err != nil {
			return 0, unchanged, fmt.Errorf("update %s %s: %w", rec.table, rec.xmlid, err)
		}
		o := unchanged
		if tag.RowsAffected() > 0 {
			o = updated
		}
		t.add(rec.table, o, "")
		return id, o, nil
	}
	var names, values []string
	for i, c := range rec.cols {
		names = append(names, quote(c.name))
		values = append(values, fmt.Sprintf("$%d::%s", i+1, c.cast))
	}
	stmt := fmt.Sprintf(`INSERT INTO %s (%s, create_uid, create_date, write_uid, write_date) VALUES (%s, 1, %s, 1, %s) RETURNING id`,
		quote(rec.table), strings.Join(names, ", "), strings.Join(values, ", "), nowUTC, nowUTC)
	if err := tx.QueryRow(ctx, stmt, args...).Scan(&id); err != nil {
		return 0, unchanged, fmt.Errorf("insert %s %s: %w", rec.table, rec.xmlid, err)
	}
	if _, err := tx.Exec(ctx, upsertXMLID, Module, rec.xmlid, rec.model, id); err != nil {
		return 0, unchanged, fmt.Errorf("external id %s.%s: %w", Module, rec.xmlid, err)
	}
	t.add(rec.table, created, Module+"."+rec.xmlid)
	return id, created, nil
}

// upsertXMLID points an external id at a row; noupdate because no Odoo module
// update should ever touch these records.
const upsertXMLID = `
INSERT INTO ir_model_data (module, name, model, res_id, noupdate, create_uid, create_date, write_uid, write_date)
VALUES ($1, $2, $3, $4, true, 1, ` + nowUTC + `, 1, ` + nowUTC + `)
ON CONFLICT (module, name) DO UPDATE SET model = EXCLUDED.model, res_id = EXCLUDED.res_id, write_date = EXCLUDED.write_date`

// xmlidRow returns the id of the row of table that the external id "module.name"
// points at, 0 when there is none (never written, or its row was deleted).
func xmlidRow(ctx context.Context, tx pgx.Tx, xmlid, table string) (int, error) {
	module, name, _ := strings.Cut(xmlid, ".")
	var id int
	err := tx.QueryRow(ctx, fmt.Sprintf(`
		SELECT t.id FROM ir_model_data d JOIN %s t ON t.id = d.res_id
		WHERE d.module = $1 AND d.name = $2`, quote(table)), module, name).Scan(&id)
	if err == pgx.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("look up %s: %w", xmlid, err)
	}
	return id, nil
}

// ensureGroups links row id to the groups (external ids) in a many2many table
// (a, b) = (row, group); it adds missing links and never removes one.
func ensureGroups(ctx context.Context, tx pgx.Tx, relTable, rowCol, groupCol string, id int, groups []string, t *tally) error {
	for _, g := range groups {
		gid, err := xmlidRow(ctx, tx, g, "res_groups")
		if err != nil {
			return err
		}
		if gid == 0 {
			t.warn("group %s not found: %s row %d is not restricted to it", g, relTable, id)
			continue
		}
		tag, err := tx.Exec(ctx, fmt.Sprintf(`INSERT INTO %s (%s, %s) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
			quote(relTable), quote(rowCol), quote(groupCol)), id, gid)
		if err != nil {
			return fmt.Errorf("link %s to %s: %w", relTable, g, err)
		}
		o := unchanged
		if tag.RowsAffected() > 0 {
			o = created
		}
		t.add(relTable, o, "")
	}
	return nil
}
