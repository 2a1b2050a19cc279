package odoo

import (
	"context"
	"fmt"
	"html"
	"sort"
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

// flag is an x_whatsapp_* update: which flags one kind of sent message sets, as a
// SET clause where f.at is the time it was sent.
type flag struct {
	table string
	set   string
}

// sentFlags maps a message kind to the flags its successful send sets. The sidecar
// never touches write_date: Odoo's concurrency check must not see our writes.
var sentFlags = map[string]flag{
	"order_created":    {"sale_order", "x_whatsapp_creation_sent = true, x_whatsapp_creation_sent_date = f.at"},
	"order_summary":    {"sale_order", "x_whatsapp_validation_sent = true, x_whatsapp_validation_sent_date = f.at"},
	"order_confirmed":  {"sale_order", "x_whatsapp_state_sent = true, x_whatsapp_state_sent_date = f.at"},
	"order_cancelled":  {"sale_order", "x_whatsapp_state_sent = true, x_whatsapp_state_sent_date = f.at"},
	"order_details":    {"sale_order", "x_whatsapp_details_sent = true, x_whatsapp_details_sent_date = f.at"},
	"invoice_posted":   {"account_move", "x_whatsapp_invoice_sent = true, x_whatsapp_invoice_sent_date = f.at"},
	"invoice_pdf":      {"account_move", "x_whatsapp_invoice_sent = true, x_whatsapp_invoice_sent_date = f.at"},
	"invoice_residual": {"account_move", "x_whatsapp_residual_sent = true, x_whatsapp_residual_sent_date = f.at"},
	"invoice_paid":     {"account_move", "x_whatsapp_residual_sent = true, x_whatsapp_residual_sent_date = f.at"},
	"invoice_reminder": {"account_move", "x_whatsapp_unpaid_reminder_sent = true, x_whatsapp_unpaid_reminder_sent_date = f.at, " +
		"x_whatsapp_unpaid_reminder_count = COALESCE(x_whatsapp_unpaid_reminder_count, 0) + 1"},
}

// HasSentFlags says whether a kind sets flags when sent.
func HasSentFlags(kind string) bool { _, ok := sentFlags[kind]; return ok }

// SentFlag is one record's flags to set: its kind of message, sent at At (UTC).
type SentFlag struct {
	Kind  string
	ResID int
	At    time.Time
}

// Quiet is true while no other transaction is open on the database, the sidecar's
// own connections (application_name whatsapp-sidecar...) aside: no Odoo
// transaction holds a snapshot taken before a write made now. A transaction in
// READ COMMITTED between statements holds none, and cannot fail on our write.
const Quiet = `NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a
    WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend'
      AND (a.backend_xid IS NOT NULL OR a.backend_xmin IS NOT NULL)
      AND a.application_name NOT LIKE 'whatsapp-sidecar%')`

// IsQuiet reports whether the database is Quiet now: a cheap look before a batch of
// flags is prepared, so a busy Odoo costs one read instead of an update undone.
func IsQuiet(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}) (bool, error) {
	var ok bool
	if err := q.QueryRow(ctx, `SELECT `+Quiet).Scan(&ok); err != nil {
		return false, fmt.Errorf("look whether Odoo is busy: %w", err)
	}
	return ok, nil
}

// SetFlagsWhileQuiet sets the flags of sent messages on their orders and invoices,
// in one statement that writes only if the database is Quiet when it starts, and
// says whether it wrote. Odoo runs each request in REPEATABLE READ: a transaction
// that read an order before our write committed, then updates it, fails with
// "could not serialize access" and Odoo replays the whole request. With no other
// transaction open when the statement starts, there is no such reader: a
// transaction that starts after it takes its snapshot, at the earliest, during
// this statement and its commit (well under a millisecond with synchronous_commit
// off, which tx should set). Run it as the last statement before tx commits.
func SetFlagsWhileQuiet(ctx context.Context, tx pgx.Tx, flags []SentFlag) (bool, error) {
	byKind := map[string][]SentFlag{}
	for _, f := range flags {
		if HasSentFlags(f.Kind) {
			byKind[f.Kind] = append(byKind[f.Kind], f)
		}
	}
	if len(byKind) == 0 {
		return true, nil
	}
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var b strings.Builder
	b.WriteString("WITH quiet AS (SELECT " + Quiet + " AS ok)")
	var args []any
	for i, k := range kinds {
		f := sentFlags[k]
		ids, ats := make([]int, len(byKind[k])), make([]time.Time, len(byKind[k]))
		for j, sf := range byKind[k] {
			ids[j], ats[j] = sf.ResID, sf.At.UTC()
		}
		args = append(args, ids, ats)
		fmt.Fprintf(&b, `, u%d AS (UPDATE %s t SET %s FROM unnest($%d::int[], $%d::timestamp[]) AS f(id, at)
			WHERE t.id = f.id AND (SELECT ok FROM quiet) RETURNING 1)`, i, f.table, f.set, 2*i+1, 2*i+2)
	}
	b.WriteString(" SELECT ok FROM quiet")
	var ok bool
	if err := tx.QueryRow(ctx, b.String(), args...).Scan(&ok); err != nil {
		return false, fmt.Errorf("set WhatsApp flags on %d records: %w", len(flags), err)
	}
	return ok, nil
}

// Note is a chatter message on an order or invoice.
type Note struct {
	Model      string // sale.order, account.move
	ResID      int
	RecordName string
	BodyHTML   string
	// At dates the note (what it tells happened then); zero: the time PostNotes is given.
	At time.Time
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
	dates := make([]time.Time, len(notes))
	for i, n := range notes {
		models[i], resIDs[i], names[i], bodies[i], dates[i] = n.Model, n.ResID, n.RecordName, n.BodyHTML, at.UTC()
		if !n.At.IsZero() {
			dates[i] = n.At.UTC()
		}
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO mail_message (model, res_id, record_name, body, message_type, subtype_id, author_id,
			date, create_uid, create_date, write_uid, write_date)
		SELECT n.model, n.res_id, NULLIF(n.record_name, ''), n.body, 'comment', $5, $6,
			date_trunc('second', n.at), 1, n.at, 1, n.at
		FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $7::timestamp[]) AS n(model, res_id, record_name, body, at)`,
		models, resIDs, names, bodies, ids.subtype, ids.author, dates)
	if err != nil {
		return fmt.Errorf("post %d chatter notes: %w", len(notes), err)
	}
	return nil
}

// EscapeHTML makes text safe inside a chatter note's HTML body, keeping line breaks.
func EscapeHTML(text string) string {
	return strings.ReplaceAll(html.EscapeString(text), "\n", "<br>")
}
