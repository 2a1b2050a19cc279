package odooapp

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Uninstall removes the metadata Install wrote.
//
// Without dropData the whatsapp_* tables and x_whatsapp_* columns stay, so the models,
// fields, views, menus and access rights stay too: Odoo users keep reading the message
// history. Only the server actions go, since nothing would send what they queue.
//
// With dropData everything Install wrote goes, and with it what Odoo itself attached
// to the sidecar's models (fields it reflected, saved filters, window actions): the
// ir_* tables are left as they were before Install.
func Uninstall(ctx context.Context, conn *pgx.Conn, dropData bool) ([]string, error) {
	if ok, err := hasOdoo(ctx, conn); err != nil || !ok {
		return nil, err
	}
	var report []string
	err := locked(ctx, conn, func(tx pgx.Tx) error {
		var err error
		if dropData {
			report, err = removeAll(ctx, tx)
		} else {
			report, err = removeServerActions(ctx, tx)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("remove odoo metadata: %w", err)
	}
	if len(report) > 0 {
		report = append(report, signal(ctx, conn, registrySignal))
	}
	return report, nil
}

func removeServerActions(ctx context.Context, tx pgx.Tx) ([]string, error) {
	tag, err := tx.Exec(ctx, `
		WITH gone AS (
		    DELETE FROM ir_model_data WHERE module = $1 AND model = 'ir.actions.server' RETURNING res_id)
		DELETE FROM ir_act_server WHERE id IN (SELECT res_id FROM gone)`, Module)
	if err != nil {
		return nil, fmt.Errorf("delete server actions: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return nil, nil
	}
	return []string{fmt.Sprintf("removed %d WhatsApp actions from Odoo's Action menus (models, views and menus kept with the tables)", tag.RowsAffected())}, nil
}

// removeAll deletes, in an order the foreign keys accept: menus (children first),
// actions, views (extensions first), access rows, the external ids, the flag fields,
// then the models, whose deletion cascades to their fields, selection values,
// access rows, constraints and bound actions.
func removeAll(ctx context.Context, tx pgx.Tx) ([]string, error) {
	var models []string
	for _, m := range Models {
		models = append(models, m.Name)
	}
	var report []string
	steps := []struct {
		what string
		sql  string
		args []any
	}{
		// A menu an Odoo user added under ours is detached, as Odoo's own unlink does.
		{"menus of Odoo users detached", `
			UPDATE ir_ui_menu SET parent_id = NULL, parent_path = id || '/'
			 WHERE parent_id IN (SELECT res_id FROM ir_model_data WHERE module = $1 AND model = 'ir.ui.menu')
			   AND id NOT IN (SELECT res_id FROM ir_model_data WHERE module = $1 AND model = 'ir.ui.menu')`, []any{Module}},
		{"menus", `
			DELETE FROM ir_ui_menu WHERE id IN (
			    SELECT res_id FROM ir_model_data WHERE module = $1 AND model = 'ir.ui.menu')`, []any{Module}},
		{"server actions", `
			DELETE FROM ir_act_server WHERE id IN (
			    SELECT res_id FROM ir_model_data WHERE module = $1 AND model = 'ir.actions.server')`, []any{Module}},
		// Ours, and any an Odoo user made on the models that go.
		{"window actions", `
			DELETE FROM ir_act_window WHERE id IN (
			    SELECT res_id FROM ir_model_data WHERE module = $1 AND model = 'ir.actions.act_window')
			   OR res_model = ANY($2)`, []any{Module, models}},
		{"inherited views", `
			DELETE FROM ir_ui_view WHERE inherit_id IS NOT NULL AND (model = ANY($2) OR id IN (
			    SELECT res_id FROM ir_model_data WHERE module = $1 AND model = 'ir.ui.view'))`, []any{Module, models}},
		{"views", `
			DELETE FROM ir_ui_view WHERE model = ANY($2) OR id IN (
			    SELECT res_id FROM ir_model_data WHERE module = $1 AND model = 'ir.ui.view')`, []any{Module, models}},
		{"access rules", `
			DELETE FROM ir_model_access WHERE id IN (
			    SELECT res_id FROM ir_model_data WHERE module = $1 AND model = 'ir.model.access')`, []any{Module}},
		{"saved filters", `DELETE FROM ir_filters WHERE model_id = ANY($1)`, []any{models}},
		{"external ids", `DELETE FROM ir_model_data WHERE module = $1 OR model = ANY($2)`, []any{Module, models}},
	}
	for _, s := range steps {
		tag, err := tx.Exec(ctx, s.sql, s.args...)
		if err != nil {
			return nil, fmt.Errorf("delete %s: %w", s.what, err)
		}
		if n := tag.RowsAffected(); n > 0 {
			report = append(report, fmt.Sprintf("removed %d %s", n, s.what))
		}
	}
	// Odoo also reflects a flag onto the models that _inherits its model (account.move's
	// onto account.payment, res.partner's onto res.users), as state 'base' rows.
	var flags int64
	for _, f := range FlagFields {
		tag, err := tx.Exec(ctx, `
			DELETE FROM ir_model_fields WHERE name = $2 AND ((model = $1 AND state = 'manual') OR state = 'base')`, f.Model, f.Name)
		if err != nil {
			return nil, fmt.Errorf("unregister field %s.%s: %w", f.Model, f.Name, err)
		}
		flags += tag.RowsAffected()
	}
	if flags > 0 {
		report = append(report, fmt.Sprintf("removed %d x_whatsapp_* fields from ir_model_fields", flags))
	}
	tag, err := tx.Exec(ctx, `DELETE FROM ir_model WHERE model = ANY($1) AND state = 'manual'`, models)
	if err != nil {
		return nil, fmt.Errorf("delete models: %w", err)
	}
	if n := tag.RowsAffected(); n > 0 {
		report = append(report, fmt.Sprintf("removed %d WhatsApp models with their fields from ir_model", n))
	}
	return report, nil
}
