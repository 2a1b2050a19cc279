// Package odooapp writes the sidecar's face inside Odoo as data, without any Python
// module: manual models for the whatsapp_* tables and manual fields for the
// x_whatsapp_* flags (ir_model, ir_model_fields, ir_model_fields_selection), their
// list, form and search views and the WhatsApp tab on order, invoice and contact
// forms (ir_ui_view), the WhatsApp menus (ir_ui_menu, ir_act_window), access rights
// (ir_model_access), and the server actions users run from the Action menu
// (ir_act_server), which only queue whatsapp_message rows or write requests the
// sidecar acts on.
//
// Upserts go by natural key (ir_model.model, ir_model_fields (model, name)) or by
// external id whatsapp_sidecar.<name> (ir_model_data), so Install is idempotent, and
// Uninstall removes exactly what Install wrote. Rows are written the way Odoo's own
// reflection would write them, so `odoo -u` leaves them (and their translations)
// alone. Odoo reads this metadata when it builds its registry: after a change,
// Install asks running Odoo servers to reload through base_registry_signaling.
package odooapp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// lockKey serialises the writers of Odoo metadata (Install, Uninstall, Check,
// SyncBindings) across replicas, within their transaction: the first 8 bytes of
// sha256("whatsapp_sidecar.odooapp").
const lockKey int64 = 0x5b0e0f9c7d1a3e42

// Fingerprint changes whenever what Install writes changes.
func Fingerprint() string {
	type viewData struct {
		View
		Arch string
	}
	type actionData struct {
		ServerAction
		Code string
	}
	var views []viewData
	for _, v := range Views {
		views = append(views, viewData{v, v.Arch()})
	}
	var actions []actionData
	for _, a := range ServerActions {
		actions = append(actions, actionData{a, a.Code()})
	}
	b, _ := json.Marshal([]any{Models, FlagFields, views, actions, WindowActions, Menus, Accesses, viewTermsFR, installVersion})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// installVersion changes when the way rows are written changes, not only the data.
const installVersion = 2

// Install registers the app, or brings it up to date, and returns what it did, a line
// per ir_* table, then what it skipped and whether Odoo was asked to reload. Where
// Odoo's ir_model table is absent (a bare database), it does nothing and says so.
func Install(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	if ok, err := hasOdoo(ctx, conn); err != nil || !ok {
		return []string{"no ir_model table: Odoo metadata not registered"}, err
	}
	t, err := write(ctx, conn, assertAll)
	if err != nil {
		return nil, err
	}
	report := append(t.lines(), prefixed("warning: ", t.warnings)...)
	if t.changed() == 0 {
		return append(report, "Odoo metadata unchanged: no registry reload needed"), nil
	}
	return append(report, signal(ctx, conn, registrySignal)), nil
}

// Check makes sure the app is complete in Odoo at start-up: it re-creates what is
// missing (a menu, view, action or field someone deleted) and re-attaches detached
// menus, without undoing changes an administrator made to existing rows. What it
// cannot repair (a model whose table was dropped from Odoo's UI) comes back as a
// warning.
func Check(ctx context.Context, conn *pgx.Conn) (repaired []string, warnings []string, err error) {
	if ok, err := hasOdoo(ctx, conn); err != nil || !ok {
		return nil, []string{"no ir_model table: this database has no Odoo metadata to check"}, err
	}
	t, err := write(ctx, conn, repairMissing)
	if err != nil {
		return nil, nil, err
	}
	if t.changed() == 0 {
		return nil, t.warnings, nil
	}
	return append(t.repaired, signal(ctx, conn, registrySignal)), t.warnings, nil
}

// write runs the installer in one transaction under the metadata lock.
func write(ctx context.Context, conn *pgx.Conn, md mode) (*tally, error) {
	t := newTally()
	err := locked(ctx, conn, func(tx pgx.Tx) error {
		in := &installer{tx: tx, md: md, t: t}
		return in.run(ctx)
	})
	if err != nil {
		return nil, fmt.Errorf("odoo metadata: %w", err)
	}
	return t, nil
}

// locked runs fn in a transaction holding the metadata lock.
func locked(ctx context.Context, conn *pgx.Conn, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey); err != nil {
			return fmt.Errorf("take odoo metadata lock: %w", err)
		}
		return fn(tx)
	})
}

func hasOdoo(ctx context.Context, conn *pgx.Conn) (bool, error) {
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('public.ir_model') IS NOT NULL`).Scan(&ok); err != nil {
		return false, fmt.Errorf("look for ir_model: %w", err)
	}
	return ok, nil
}

func prefixed(prefix string, lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = prefix + l
	}
	return out
}
