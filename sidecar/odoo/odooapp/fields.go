package odooapp

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Models and fields have natural keys (ir_model.model, ir_model_fields (model,
// name), ir_model_fields_selection (field_id, value)), so they go by ON CONFLICT,
// never over a row that an installed Odoo module owns (state 'base').

// upsertModel writes m's ir_model row and returns its id. hasMail tells whether the
// mail module's columns exist; Odoo reflects them as false for a plain model.
func upsertModel(ctx context.Context, tx pgx.Tx, m Model, hasMail bool, md mode, t *tally) (int, error) {
	cols := []col{
		translated("name", m.LabelEN, m.LabelFR),
		text("order", m.Order),
		text("info", m.Info),
		text("state", "manual"),
		boolean("transient", false),
	}
	if hasMail {
		cols = append(cols, boolean("is_mail_thread", false), boolean("is_mail_activity", false), boolean("is_mail_blacklist", false))
	}
	return upsertNatural(ctx, tx, "ir_model", []col{text("model", m.Name)}, cols, "ir_model.state = 'manual'", md, t, m.Name)
}

// upsertField writes f's ir_model_fields row as Odoo's reflection would write it.
func upsertField(ctx context.Context, tx pgx.Tx, modelID int, f Field, hasTracking bool, md mode, t *tally) (int, error) {
	cols := []col{
		integer("model_id", modelID),
		text("ttype", f.Type),
		text("state", "manual"),
		translated("field_description", f.LabelEN, f.LabelFR),
		translated("help", f.HelpEN, f.HelpFR),
		optional("relation", f.Relation),
		optional("relation_field", f.RelationField),
		optional("on_delete", f.OnDelete),
		optional("relation_table", f.RelationTable),
		optional("column1", f.Column1),
		optional("column2", f.Column2),
		boolean("required", f.Required),
		boolean("readonly", f.Readonly || f.Compute != ""),
		boolean("index", f.Index),
		boolean("store", f.Store()),
		boolean("copied", f.Copied()),
		boolean("translate", false),
		boolean("selectable", f.Store()),
		optional("compute", f.Compute),
		optional("depends", f.Depends),
	}
	if hasTracking {
		cols = append(cols, null("tracking", "int4"))
	}
	key := []col{text("model", f.Model), text("name", f.Name)}
	return upsertNatural(ctx, tx, "ir_model_fields", key, cols, "ir_model_fields.state = 'manual'", md, t, f.Model+"."+f.Name)
}

func optional(name, v string) col {
	if v == "" {
		return null(name, "varchar")
	}
	return text(name, v)
}

// upsertSelection writes one value of a selection field.
func upsertSelection(ctx context.Context, tx pgx.Tx, fieldID, sequence int, o Option, md mode, t *tally, field string) error {
	key := []col{integer("field_id", fieldID), text("value", o.Value)}
	cols := []col{translated("name", o.LabelEN, o.LabelFR), integer("sequence", sequence)}
	_, err := upsertNatural(ctx, tx, "ir_model_fields_selection", key, cols, "", md, t, field+"="+o.Value)
	return err
}

// upsertNatural inserts the row (key + cols) or, on conflict with its unique key,
// updates cols where they differ and guard holds. It returns the row's id, 0 when
// the guard refused (the row belongs to an Odoo module).
func upsertNatural(ctx context.Context, tx pgx.Tx, table string, key, cols []col, guard string, md mode, t *tally, what string) (int, error) {
	all := append(append([]col{}, key...), cols...)
	args := make([]any, len(all))
	var names, values, sets, olds, news []string
	for i, c := range all {
		args[i] = c.val
		names = append(names, quote(c.name))
		values = append(values, fmt.Sprintf("$%d::%s", i+1, c.cast))
		if i < len(key) {
			continue
		}
		e := c.expr(i+1, table)
		sets = append(sets, quote(c.name)+" = "+e)
		olds = append(olds, table+"."+quote(c.name))
		news = append(news, e)
	}
	var keyNames []string
	for _, c := range key {
		keyNames = append(keyNames, quote(c.name))
	}
	conflict := "DO NOTHING"
	if md == assertAll {
		where := fmt.Sprintf("ROW(%s) IS DISTINCT FROM ROW(%s)", strings.Join(olds, ", "), strings.Join(news, ", "))
		if guard != "" {
			where = guard + " AND " + where
		}
		conflict = fmt.Sprintf("DO UPDATE SET %s, write_uid = 1, write_date = %s WHERE %s", strings.Join(sets, ", "), nowUTC, where)
	}
	// xmax = 0 tells an inserted row from an updated one.
	stmt := fmt.Sprintf(`INSERT INTO %s (%s, create_uid, create_date, write_uid, write_date) VALUES (%s, 1, %s, 1, %s)
		ON CONFLICT (%s) %s RETURNING id, xmax = 0`,
		table, strings.Join(names, ", "), strings.Join(values, ", "), nowUTC, nowUTC, strings.Join(keyNames, ", "), conflict)
	var id int
	var inserted bool
	err := tx.QueryRow(ctx, stmt, args...).Scan(&id, &inserted)
	if err == pgx.ErrNoRows {
		// Conflict without update: unchanged, or owned by a module. Find its id.
		var keyWhere []string
		for i, c := range key {
			keyWhere = append(keyWhere, fmt.Sprintf("%s = $%d::%s", quote(c.name), i+1, c.cast))
		}
		cond := strings.Join(keyWhere, " AND ")
		if guard != "" {
			cond += " AND " + guard
		}
		err = tx.QueryRow(ctx, fmt.Sprintf(`SELECT id FROM %s WHERE %s`, table, cond), args[:len(key)]...).Scan(&id)
		if err == pgx.ErrNoRows {
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("look up %s %s: %w", table, what, err)
		}
		t.add(table, unchanged, "")
		return id, nil
	}
	if err != nil {
		return 0, fmt.Errorf("write %s %s: %w", table, what, err)
	}
	if inserted {
		t.add(table, created, what)
	} else {
		t.add(table, updated, "")
	}
	return id, nil
}
