// Package odooapp writes the sidecar's face inside Odoo as data: manual fields (and,
// later, models, views, menus and actions) in Odoo's ir_* metadata tables, so Odoo
// shows and filters what the sidecar stores without any Python module. Upserts go by
// natural key (ir_model_fields is UNIQUE(model, name)), so Install is idempotent, and
// Uninstall removes exactly what Install wrote.
package odooapp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Field is one manual field Odoo loads from ir_model_fields.
type Field struct {
	Model   string // Odoo model, e.g. "sale.order"
	Name    string // column name
	Type    string // Odoo ttype: boolean, datetime, integer, char, ...
	LabelEN string
	LabelFR string
}

// FlagFields are the x_whatsapp_* columns that migration 002 adds to Odoo's tables.
var FlagFields = []Field{
	{"sale.order", "x_whatsapp_creation_sent", "boolean", "WhatsApp creation message sent", "Message de création WhatsApp envoyé"},
	{"sale.order", "x_whatsapp_creation_sent_date", "datetime", "WhatsApp creation message date", "Date envoi message création WhatsApp"},
	{"sale.order", "x_whatsapp_state_sent", "boolean", "WhatsApp state message sent", "Message d'état WhatsApp envoyé"},
	{"sale.order", "x_whatsapp_state_sent_date", "datetime", "WhatsApp state message date", "Date envoi message d'état WhatsApp"},
	{"sale.order", "x_whatsapp_details_sent", "boolean", "WhatsApp order details sent", "Détails commande WhatsApp envoyés"},
	{"sale.order", "x_whatsapp_details_sent_date", "datetime", "WhatsApp order details date", "Date envoi détails WhatsApp"},
	{"sale.order", "x_whatsapp_validation_sent", "boolean", "WhatsApp validation request sent", "Validation WhatsApp envoyée"},
	{"sale.order", "x_whatsapp_validation_sent_date", "datetime", "WhatsApp validation request date", "Date envoi validation WhatsApp"},
	{"sale.order", "x_whatsapp_validated", "boolean", "Validated on WhatsApp", "Validée via WhatsApp"},
	{"sale.order", "x_whatsapp_rejected", "boolean", "Rejected on WhatsApp", "Rejetée via WhatsApp"},
	{"account.move", "x_whatsapp_invoice_sent", "boolean", "WhatsApp invoice sent", "Facture envoyée par WhatsApp"},
	{"account.move", "x_whatsapp_invoice_sent_date", "datetime", "WhatsApp invoice date", "Date envoi facture WhatsApp"},
	{"account.move", "x_whatsapp_residual_sent", "boolean", "WhatsApp balance message sent", "Message résiduel WhatsApp envoyé"},
	{"account.move", "x_whatsapp_residual_sent_date", "datetime", "WhatsApp balance message date", "Date envoi message résiduel WhatsApp"},
	{"account.move", "x_whatsapp_validation_sent", "boolean", "WhatsApp validation request sent", "Validation WhatsApp envoyée"},
	{"account.move", "x_whatsapp_validation_sent_date", "datetime", "WhatsApp validation request date", "Date envoi validation WhatsApp"},
	{"account.move", "x_whatsapp_auto_send_attempted", "boolean", "WhatsApp automatic send attempted", "Envoi automatique WhatsApp tenté"},
	{"account.move", "x_whatsapp_unpaid_reminder_sent", "boolean", "WhatsApp unpaid reminder sent", "Rappel impayé WhatsApp envoyé"},
	{"account.move", "x_whatsapp_unpaid_reminder_sent_date", "datetime", "WhatsApp last unpaid reminder date", "Date dernier rappel impayé WhatsApp"},
	{"account.move", "x_whatsapp_unpaid_reminder_count", "integer", "WhatsApp unpaid reminders sent", "Nombre de rappels impayés WhatsApp"},
	{"res.partner", "x_whatsapp_opt_out", "boolean", "WhatsApp opt-out", "Désinscrit de WhatsApp"},
	{"res.partner", "x_whatsapp_opt_out_date", "datetime", "WhatsApp opt-out date", "Date de désinscription WhatsApp"},
}

// Fingerprint changes whenever what Install writes changes.
func Fingerprint() string {
	b, _ := json.Marshal(FlagFields)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Install registers the metadata. Where Odoo's ir_model table is absent (a bare
// database), it does nothing and says so.
func Install(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	var hasIrModel bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('public.ir_model') IS NOT NULL`).Scan(&hasIrModel); err != nil {
		return nil, fmt.Errorf("look for ir_model: %w", err)
	}
	if !hasIrModel {
		return []string{"no ir_model table: Odoo metadata not registered"}, nil
	}
	var registered int
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, f := range FlagFields {
			tag, err := tx.Exec(ctx, upsertField, f.Model, f.Name, f.Type, label(f.LabelEN, f.LabelFR))
			if err != nil {
				return fmt.Errorf("register field %s.%s: %w", f.Model, f.Name, err)
			}
			registered += int(tag.RowsAffected())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return []string{fmt.Sprintf("registered %d x_whatsapp_* fields in ir_model_fields (%d changed)", len(FlagFields), registered)}, nil
}

// upsertField writes one manual field, only where its model is installed and its
// column exists: a field row without a column breaks Odoo's reads of the whole model.
// It changes nothing (and counts no row) when the row is already as wanted.
const upsertField = `
INSERT INTO ir_model_fields (model_id, model, name, ttype, state, field_description,
    store, copied, create_uid, create_date, write_uid, write_date)
SELECT m.id, m.model, $2, $3, 'manual', $4::jsonb, true, false,
    1, now() AT TIME ZONE 'utc', 1, now() AT TIME ZONE 'utc'
FROM ir_model m
JOIN information_schema.columns c
  ON c.table_schema = 'public' AND c.table_name = replace(m.model, '.', '_') AND c.column_name = $2
WHERE m.model = $1
ON CONFLICT (model, name) DO UPDATE
   SET ttype = EXCLUDED.ttype, state = 'manual', field_description = EXCLUDED.field_description,
       store = true, write_date = EXCLUDED.write_date
 WHERE (ir_model_fields.ttype, ir_model_fields.state, ir_model_fields.field_description, ir_model_fields.store)
       IS DISTINCT FROM (EXCLUDED.ttype, 'manual', EXCLUDED.field_description, true)`

func label(en, fr string) string {
	b, _ := json.Marshal(map[string]string{"en_US": en, "fr_FR": fr})
	return string(b)
}

// Uninstall removes the metadata Install wrote. The fields go only with dropData:
// without it their columns stay, and Odoo keeps showing the flags.
func Uninstall(ctx context.Context, conn *pgx.Conn, dropData bool) ([]string, error) {
	if !dropData {
		return nil, nil
	}
	var hasIrModel bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('public.ir_model_fields') IS NOT NULL`).Scan(&hasIrModel); err != nil {
		return nil, fmt.Errorf("look for ir_model_fields: %w", err)
	}
	if !hasIrModel {
		return nil, nil
	}
	var removed int64
	for _, f := range FlagFields {
		tag, err := conn.Exec(ctx, `DELETE FROM ir_model_fields WHERE model = $1 AND name = $2 AND state = 'manual'`, f.Model, f.Name)
		if err != nil {
			return nil, fmt.Errorf("unregister field %s.%s: %w", f.Model, f.Name, err)
		}
		removed += tag.RowsAffected()
	}
	return []string{fmt.Sprintf("removed %d x_whatsapp_* fields from ir_model_fields", removed)}, nil
}
