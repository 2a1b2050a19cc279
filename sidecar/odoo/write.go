package odoo

import (
	"context"
	"fmt"
	"html"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// LockTimeout bounds every write to Odoo's rows: Odoo runs in REPEATABLE READ and
// retries on conflicts; a sidecar write that waits longer than this gives up and is
// retried later rather than stalling Odoo's workers behind it.
const LockTimeout = 2 * time.Second

// Beginner starts transactions: a pool or a connection.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// WithLockTimeout runs fn in a short transaction whose lock waits are bounded.
func WithLockTimeout(ctx context.Context, db Beginner, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d", LockTimeout.Milliseconds())); err != nil {
			return err
		}
		return fn(tx)
	})
}

// Flag is an x_whatsapp_* update: which flags one kind of sent message sets.
type Flag struct {
	Table string
	SQL   string // SET clause; $2 is the time sent
}

// sentFlags maps a message kind to the flags its successful send sets. The sidecar
// never touches write_date: Odoo's concurrency check must not see our writes.
var sentFlags = map[string]Flag{
	"order_created":    {"sale_order", "x_whatsapp_creation_sent = true, x_whatsapp_creation_sent_date = $2"},
	"order_summary":    {"sale_order", "x_whatsapp_validation_sent = true, x_whatsapp_validation_sent_date = $2"},
	"order_confirmed":  {"sale_order", "x_whatsapp_state_sent = true, x_whatsapp_state_sent_date = $2"},
	"order_cancelled":  {"sale_order", "x_whatsapp_state_sent = true, x_whatsapp_state_sent_date = $2"},
	"order_details":    {"sale_order", "x_whatsapp_details_sent = true, x_whatsapp_details_sent_date = $2"},
	"invoice_posted":   {"account_move", "x_whatsapp_invoice_sent = true, x_whatsapp_invoice_sent_date = $2"},
	"invoice_pdf":      {"account_move", "x_whatsapp_invoice_sent = true, x_whatsapp_invoice_sent_date = $2"},
	"invoice_residual": {"account_move", "x_whatsapp_residual_sent = true, x_whatsapp_residual_sent_date = $2"},
	"invoice_paid":     {"account_move", "x_whatsapp_residual_sent = true, x_whatsapp_residual_sent_date = $2"},
	"invoice_reminder": {"account_move", "x_whatsapp_unpaid_reminder_sent = true, x_whatsapp_unpaid_reminder_sent_date = $2, " +
		"x_whatsapp_unpaid_reminder_count = COALESCE(x_whatsapp_unpaid_reminder_count, 0) + 1"},
}

// HasSentFlags says whether a kind sets flags when sent.
func HasSentFlags(kind string) bool { _, ok := sentFlags[kind]; return ok }

// SetSentFlags sets the flags of kind on the records ids, sent at `at` (UTC).
func SetSentFlags(ctx context.Context, tx pgx.Tx, kind string, ids []int, at time.Time) error {
	f, ok := sentFlags[kind]
	if !ok || len(ids) == 0 {
		return nil
	}
	sql := "UPDATE " + f.Table + " SET " + f.SQL + " WHERE id = ANY($1)"
	if _, err := tx.Exec(ctx, sql, ids, at.UTC()); err != nil {
		return fmt.Errorf("set %s flags on %s: %w", kind, f.Table, err)
	}
	return nil
}

// Note is a chatter message on an order or invoice.
type Note struct {
	Model      string // sale.order, account.move
	ResID      int
	RecordName string
	BodyHTML   string
}

// chatterIDs are the rows a note references: the "Note" subtype (mail.mt_note) and
// OdooBot's partner (base.partner_root), looked up once per database.
type chatterIDs struct {
	subtype, author int
}

var chatterCache sync.Map // database name -> chatterIDs

func lookupChatterIDs(ctx context.Context, tx pgx.Tx) (chatterIDs, error) {
	db := tx.Conn().Config().Database
	if v, ok := chatterCache.Load(db); ok {
		return v.(chatterIDs), nil
	}
	var ids chatterIDs
	err := tx.QueryRow(ctx, `
		SELECT (SELECT res_id FROM ir_model_data WHERE module = 'mail' AND name = 'mt_note'),
		       (SELECT res_id FROM ir_model_data WHERE module = 'base' AND name = 'partner_root')`).Scan(&ids.subtype, &ids.author)
	if err != nil {
		return chatterIDs{}, fmt.Errorf("look up mail.mt_note and base.partner_root: %w", err)
	}
	chatterCache.Store(db, ids)
	return ids, nil
}

// PostNotes writes chatter notes as Odoo's message_post(message_type='comment',
// subtype_xmlid='mail.mt_note') does: one mail_message row each, authored by OdooBot,
// internal (the Note subtype), shown on the record's next load. No notification or
// follower rows: Odoo writes none for an internal note either.
func PostNotes(ctx context.Context, tx pgx.Tx, notes []Note, at time.Time) error {
	if len(notes) == 0 {
		return nil
	}
	ids, err := lookupChatterIDs(ctx, tx)
	if err != nil {
		return err
	}
	models := make([]string, len(notes))
	resIDs := make([]int, len(notes))
	names := make([]string, len(notes))
	bodies := make([]string, len(notes))
	for i, n := range notes {
		models[i], resIDs[i], names[i], bodies[i] = n.Model, n.ResID, n.RecordName, n.BodyHTML
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO mail_message (model, res_id, record_name, body, message_type, subtype_id, author_id,
			date, create_uid, create_date, write_uid, write_date)
		SELECT n.model, n.res_id, NULLIF(n.record_name, ''), n.body, 'comment', $5, $6,
			date_trunc('second', $7::timestamp), 1, $7, 1, $7
		FROM unnest($1::text[], $2::int[], $3::text[], $4::text[]) AS n(model, res_id, record_name, body)`,
		models, resIDs, names, bodies, ids.subtype, ids.author, at.UTC())
	if err != nil {
		return fmt.Errorf("post %d chatter notes: %w", len(notes), err)
	}
	return nil
}

// EscapeHTML makes text safe inside a chatter note's HTML body, keeping line breaks.
func EscapeHTML(text string) string {
	return strings.ReplaceAll(html.EscapeString(text), "\n", "<br>")
}
