package odooapp

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// The rule that shows or hides a switched action, and the sync that applies it, are
// SQL functions of migration 022_action_bindings.sql, which a trigger on
// whatsapp_config also runs in the transaction that changes a configuration: the
// Action menu follows the switches whether the daemon runs or not, and Go applies the
// very same rule.
const (
	actionShownSQL  = `SELECT whatsapp_sidecar.action_shown($1)`
	syncBindingsSQL = `SELECT action, switch, shown FROM whatsapp_sidecar.sync_action_bindings()`
)

// bindingWanted tells whether the actions switched by a whatsapp_config column (for
// instance show_button_in_order) belong in the Action menu: yes when any active
// configuration has the switch on (an empty switch is off, as Odoo shows it), and yes
// when there is no active configuration at all, since the sidecar may take its
// credentials from its environment.
func bindingWanted(ctx context.Context, tx pgx.Tx, column string) (bool, error) {
	var wanted bool
	if err := tx.QueryRow(ctx, actionShownSQL, column).Scan(&wanted); err != nil {
		return false, fmt.Errorf("read whatsapp_config.%s: %w", column, err)
	}
	return wanted, nil
}

// SyncBindings shows or hides the "Envoyer par WhatsApp" actions in the Action menu
// of orders, invoices and contacts, following the show_button_in_* switches of the
// active configurations. The trigger on whatsapp_config does it already when a row
// changes; this repairs what changed while the trigger could not see it. It changes
// nothing when the bindings already match, and otherwise asks Odoo to clear its
// caches (bindings are cached per model).
func SyncBindings(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	if ok, err := hasOdoo(ctx, conn); err != nil || !ok {
		return nil, err
	}
	var report []string
	err := locked(ctx, conn, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, syncBindingsSQL)
		if err != nil {
			return err
		}
		var xmlid, column string
		var shown bool
		_, err = pgx.ForEachRow(rows, []any{&xmlid, &column, &shown}, func() error {
			verb := "hid"
			if shown {
				verb = "showed"
			}
			a := serverAction(xmlid)
			report = append(report, fmt.Sprintf("%s %q in the Action menu of %s (whatsapp_config.%s)", verb, a.NameFR, a.Model, column))
			return nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sync action bindings: %w", err)
	}
	if len(report) > 0 {
		report = append(report, signal(ctx, conn, cacheSignal))
	}
	return report, nil
}

// serverAction returns the ServerAction of an external id (without the module).
func serverAction(xmlid string) ServerAction {
	for _, a := range ServerActions {
		if a.XMLID == xmlid {
			return a
		}
	}
	return ServerAction{XMLID: xmlid, Model: "?", NameFR: xmlid}
}
