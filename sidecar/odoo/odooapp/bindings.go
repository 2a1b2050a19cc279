package odooapp

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// bindingWanted tells whether the actions switched by a whatsapp_config column (for
// instance show_button_in_order) belong in the Action menu: yes when any active
// configuration has the switch on, or leaves it empty (the seed module's default is
// on), and yes when there is no active configuration at all, since the sidecar may
// take its credentials from its environment.
func bindingWanted(ctx context.Context, tx pgx.Tx, column string) (bool, error) {
	columns, err := tableColumns(ctx, tx, "whatsapp_config")
	if err != nil || !columns[column] || !columns["is_active"] {
		return true, err
	}
	var wanted bool
	err = tx.QueryRow(ctx, fmt.Sprintf(`
		SELECT NOT EXISTS (SELECT 1 FROM whatsapp_config WHERE is_active)
		    OR EXISTS (SELECT 1 FROM whatsapp_config WHERE is_active AND COALESCE(%s, true))`, quote(column))).Scan(&wanted)
	if err != nil {
		return false, fmt.Errorf("read whatsapp_config.%s: %w", column, err)
	}
	return wanted, nil
}

// SyncBindings shows or hides the "Envoyer par WhatsApp" actions in the Action menu
// of orders, invoices and contacts, following the show_button_in_* switches of the
// active configurations. Call it when a whatsapp_config row changes; it changes
// nothing when the bindings already match, and otherwise asks Odoo to clear its
// caches (bindings are cached per model).
func SyncBindings(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	if ok, err := hasOdoo(ctx, conn); err != nil || !ok {
		return nil, err
	}
	var report []string
	err := locked(ctx, conn, func(tx pgx.Tx) error {
		for _, a := range ServerActions {
			if a.Switch == "" {
				continue
			}
			wanted, err := bindingWanted(ctx, tx, a.Switch)
			if err != nil {
				return err
			}
			tag, err := tx.Exec(ctx, `
				UPDATE ir_act_server s
				   SET binding_model_id = CASE WHEN $3 THEN s.model_id END, write_uid = 1, write_date = `+nowUTC+`
				  FROM ir_model_data d
				 WHERE d.module = $1 AND d.name = $2 AND s.id = d.res_id
				   AND s.binding_model_id IS DISTINCT FROM CASE WHEN $3 THEN s.model_id END`, Module, a.XMLID, wanted)
			if err != nil {
				return fmt.Errorf("bind %s: %w", a.XMLID, err)
			}
			if tag.RowsAffected() == 0 {
				continue
			}
			verb := "hid"
			if wanted {
				verb = "showed"
			}
			report = append(report, fmt.Sprintf("%s %q in the Action menu of %s (whatsapp_config.%s)", verb, a.NameFR, a.Model, a.Switch))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sync action bindings: %w", err)
	}
	if len(report) > 0 {
		report = append(report, signal(ctx, conn, cacheSignal))
	}
	return report, nil
}
