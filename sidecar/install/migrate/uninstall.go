package migrate

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// captureTriggers are the triggers the migrations (004_capture_triggers.sql,
// 022_action_bindings.sql, 030_discuss.sql) put on tables outside the sidecar's schema. Dropping the
// schema with CASCADE would remove them too; naming them makes the report say what
// left Odoo's tables.
var captureTriggers = []struct{ Table, Trigger string }{
	{"sale_order", "whatsapp_sidecar_capture_insert"},
	{"sale_order", "whatsapp_sidecar_capture_update"},
	{"account_move", "whatsapp_sidecar_capture_insert"},
	{"account_move", "whatsapp_sidecar_capture_update"},
	{"whatsapp_message", "whatsapp_sidecar_notify_insert"},
	{"whatsapp_message", "whatsapp_sidecar_notify_update"},
	{"whatsapp_config", "whatsapp_sidecar_notify_change"},
	{"whatsapp_config", "whatsapp_sidecar_sync_bindings"},
	{"mail_message", "whatsapp_sidecar_capture_discuss"},
	{"whatsapp_conversation", "whatsapp_sidecar_capture_conversation"},
}

// OdooTables are the Odoo-visible tables of 001_odoo_tables.sql (and the operators'
// many2many of 030_discuss.sql), in an order that drops referencing tables first.
// The Discuss channels stay: they are Odoo's, and hold the conversations' history.
var OdooTables = []string{
	"whatsapp_config_operator_rel",
	"whatsapp_message",
	"whatsapp_conversation",
	"whatsapp_button_action",
	"whatsapp_interactive_scenario",
	"whatsapp_config",
	"whatsapp_template",
}

// FlagColumns are the x_whatsapp_* columns of 002_odoo_flags.sql, by Odoo table.
var FlagColumns = map[string][]string{
	"sale_order": {
		"x_whatsapp_creation_sent", "x_whatsapp_creation_sent_date",
		"x_whatsapp_state_sent", "x_whatsapp_state_sent_date",
		"x_whatsapp_details_sent", "x_whatsapp_details_sent_date",
		"x_whatsapp_validation_sent", "x_whatsapp_validation_sent_date",
		"x_whatsapp_validated", "x_whatsapp_rejected",
	},
	"account_move": {
		"x_whatsapp_invoice_sent", "x_whatsapp_invoice_sent_date",
		"x_whatsapp_residual_sent", "x_whatsapp_residual_sent_date",
		"x_whatsapp_validation_sent", "x_whatsapp_validation_sent_date",
		"x_whatsapp_auto_send_attempted",
		"x_whatsapp_unpaid_reminder_sent", "x_whatsapp_unpaid_reminder_sent_date",
		"x_whatsapp_unpaid_reminder_count",
	},
	"res_partner": {"x_whatsapp_opt_out", "x_whatsapp_opt_out_date"},
}

// flagTables fixes the order in which FlagColumns are dropped, for a stable report.
var flagTables = []string{"sale_order", "account_move", "res_partner"}

// UninstallOptions tune Uninstall. The zero value removes the machinery and keeps data.
type UninstallOptions struct {
	// DropData also drops the whatsapp_* tables and the x_whatsapp_* columns: every
	// message, conversation and flag is lost.
	DropData bool
	// Before runs under the advisory lock before anything is dropped; the Odoo
	// metadata installer removes its ir_* rows here (it is told DropData).
	Before func(ctx context.Context, conn *pgx.Conn, dropData bool) ([]string, error)
	// LockTimeout as in Options. Zero means 5s.
	LockTimeout time.Duration
}

// Uninstall removes the capture triggers, their functions and the whatsapp_sidecar
// schema (event queue, webhook inbox, bookkeeping); with DropData, also the whatsapp_*
// tables and x_whatsapp_* columns, leaving Odoo's schema exactly as before `migrate`.
func Uninstall(ctx context.Context, conn *pgx.Conn, opts UninstallOptions) ([]string, error) {
	if opts.LockTimeout == 0 {
		opts.LockTimeout = 5 * time.Second
	}
	var report []string
	err := withLock(ctx, conn, func() error {
		if opts.Before != nil {
			lines, err := opts.Before(ctx, conn, opts.DropData)
			if err != nil {
				return err
			}
			report = append(report, lines...)
		}
		return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d", opts.LockTimeout.Milliseconds())); err != nil {
				return fmt.Errorf("set lock_timeout: %w", err)
			}
			for _, t := range captureTriggers {
				dropped, err := dropTrigger(ctx, tx, t.Table, t.Trigger)
				if err != nil {
					return err
				}
				if dropped {
					report = append(report, fmt.Sprintf("dropped trigger %s on %s", t.Trigger, t.Table))
				}
			}
			var hasSchema bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, Schema).Scan(&hasSchema); err != nil {
				return fmt.Errorf("look for schema %s: %w", Schema, err)
			}
			if hasSchema {
				if _, err := tx.Exec(ctx, `DROP SCHEMA whatsapp_sidecar CASCADE`); err != nil {
					return fmt.Errorf("drop schema %s: %w", Schema, err)
				}
				report = append(report, "dropped schema "+Schema+" (event queue, webhook inbox, trigger functions)")
			}
			if !opts.DropData {
				report = append(report, "kept tables "+fmt.Sprint(OdooTables)+" and the x_whatsapp_* columns (use --drop-data to remove them)")
				return nil
			}
			for _, table := range OdooTables {
				var exists bool
				if err := tx.QueryRow(ctx, `SELECT to_regclass('public.' || $1) IS NOT NULL`, table).Scan(&exists); err != nil {
					return fmt.Errorf("look for table %s: %w", table, err)
				}
				if !exists {
					continue
				}
				if _, err := tx.Exec(ctx, "DROP TABLE public."+pgx.Identifier{table}.Sanitize()+" CASCADE"); err != nil {
					return fmt.Errorf("drop table %s: %w", table, err)
				}
				report = append(report, "dropped table "+table)
			}
			for _, table := range flagTables {
				stmt := "ALTER TABLE public." + pgx.Identifier{table}.Sanitize()
				for i, column := range FlagColumns[table] {
					if i > 0 {
						stmt += ","
					}
					stmt += " DROP COLUMN IF EXISTS " + pgx.Identifier{column}.Sanitize()
				}
				if _, err := tx.Exec(ctx, stmt); err != nil {
					return fmt.Errorf("drop x_whatsapp_* columns of %s: %w", table, err)
				}
				report = append(report, fmt.Sprintf("dropped %d x_whatsapp_* columns of %s", len(FlagColumns[table]), table))
			}
			return nil
		})
	})
	return report, err
}

func dropTrigger(ctx context.Context, tx pgx.Tx, table, trigger string) (bool, error) {
	var exists bool
	err := tx.QueryRow(ctx, `
		SELECT EXISTS (
			SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
			JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = 'public' AND c.relname = $1 AND t.tgname = $2)`, table, trigger).Scan(&exists)
	if err != nil || !exists {
		return false, err
	}
	stmt := "DROP TRIGGER " + pgx.Identifier{trigger}.Sanitize() + " ON public." + pgx.Identifier{table}.Sanitize()
	if _, err := tx.Exec(ctx, stmt); err != nil {
		return false, fmt.Errorf("drop trigger %s on %s: %w", trigger, table, err)
	}
	return true, nil
}
