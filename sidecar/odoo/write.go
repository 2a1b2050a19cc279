package odoo

import (
	"context"
	"errors"
	"fmt"
	"html"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// LockTimeout bounds every write to Odoo's rows: Odoo runs in REPEATABLE READ and
// retries on conflicts; a sidecar write that waits longer than this gives up and is
// retried later rather than stalling Odoo's workers behind it.
const LockTimeout = 2 * time.Second

// Beginner starts transactions: a pool or a connection.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// setLockTimeout bounds the lock waits of the transaction it runs in.
var setLockTimeout = fmt.Sprintf("SET LOCAL lock_timeout = %d", LockTimeout.Milliseconds())

// WithLockTimeout runs fn in a short transaction whose lock waits are bounded.
func WithLockTimeout(ctx context.Context, db Beginner, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, setLockTimeout); err != nil {
			return err
		}
		return fn(tx)
	})
}

// flag is what one kind of sent message sets on its record: table's boolean column
// and column+"_date" (the time it was sent); counted adds one to the reminder count.
type flag struct {
	table, column string
	counted       bool
}

// reminderCount is the column counted flags add to.
const reminderCount = "x_whatsapp_unpaid_reminder_count"

// sentFlags maps a message kind to the flags its successful send sets. The sidecar
// never touches write_date: Odoo's concurrency check must not see our writes.
var sentFlags = map[string]flag{
	"order_created":    {"sale_order", "x_whatsapp_creation_sent", false},
	"order_summary":    {"sale_order", "x_whatsapp_validation_sent", false},
	"order_confirmed":  {"sale_order", "x_whatsapp_state_sent", false},
	"order_cancelled":  {"sale_order", "x_whatsapp_state_sent", false},
	"order_details":    {"sale_order", "x_whatsapp_details_sent", false},
	"invoice_posted":   {"account_move", "x_whatsapp_invoice_sent", false},
	"invoice_pdf":      {"account_move", "x_whatsapp_invoice_sent", false},
	"invoice_residual": {"account_move", "x_whatsapp_residual_sent", false},
	"invoice_paid":     {"account_move", "x_whatsapp_residual_sent", false},
	"invoice_reminder": {"account_move", "x_whatsapp_unpaid_reminder_sent", true},
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

// Pieces of SetFlagsWhileQuiet's statement: one UPDATE per table, fed by one row per
// record (f) holding, per flag column, the latest time it was sent (NULL: not in
// this batch) and how many counted sends it had.
const (
	flagsQuiet  = `WITH quiet AS (SELECT ` + Quiet + ` AS ok)`
	flagsUpdate = `, u%d AS (UPDATE %s t SET %s
		FROM (SELECT s.id, %s FROM unnest($%d::int[], $%d::int[], $%d::timestamp[], $%d::bool[]) AS s(id, col, at, counted) GROUP BY s.id) f
		WHERE t.id = f.id AND (SELECT ok FROM quiet) RETURNING 1)`
	flagsSet     = `%[1]s = CASE WHEN f.c%[2]d IS NULL THEN t.%[1]s ELSE true END, %[1]s_date = COALESCE(f.c%[2]d, t.%[1]s_date)`
	flagsLatest  = `max(s.at) FILTER (WHERE s.col = %d) AS c%d`
	flagsCount   = reminderCount + ` = COALESCE(t.` + reminderCount + `, 0) + f.counted`
	flagsCounted = `count(*) FILTER (WHERE s.counted) AS counted`
	flagsResult  = ` SELECT ok FROM quiet`
)

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

// WriteFlags sets the flags of sent messages on their orders and invoices, runs
// then (the sidecar's own bookkeeping) in the same transaction, and commits only
// if no other transaction was open at any point from the write to the commit; it
// says whether it wrote. Odoo runs each request in REPEATABLE READ: a transaction
// that read an order before our write committed, then updates it, fails with
// "could not serialize access" and Odoo replays the whole request.
//
// So the database is looked at twice. The write's statement writes nothing if an
// Odoo transaction is open when it starts. The commit is sent in one message with
// a last look that rolls back if one began meanwhile (while the statement ran, or
// before the commit was sent): what is left is the time PostgreSQL takes between
// that look and the commit in the same message, not a round trip or a statement.
//
// Each record is updated once, all its flags together: two data-modifying CTEs
// updating the same row in one statement keep only one of the two changes, so an
// invoice whose posting and payment are both in the batch would lose a flag.
func WriteFlags(ctx context.Context, pool *pgxpool.Pool, flags []SentFlag, then func(ctx context.Context, tx DBTX) error) (quiet bool, err error) {
	statement, args := setFlagsStatement(flags)
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("set WhatsApp flags: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, beginFlags); err != nil {
		return false, fmt.Errorf("set WhatsApp flags: begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			// A connection left in a transaction is closed by the pool on Release.
			rollbackCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_, _ = conn.Exec(rollbackCtx, "ROLLBACK")
		}
	}()
	if statement != "" {
		if err := conn.QueryRow(ctx, statement, args...).Scan(&quiet); err != nil {
			return false, fmt.Errorf("set WhatsApp flags on %d records: %w", len(flags), err)
		}
		if !quiet {
			return false, nil
		}
	}
	if err := then(ctx, conn); err != nil {
		return false, err
	}
	if _, err := conn.Exec(ctx, commitIfQuiet); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == busyAtCommit {
			return false, nil
		}
		return false, fmt.Errorf("commit WhatsApp flags on %d records: %w", len(flags), err)
	}
	committed = true
	return true, nil
}

// beginFlags opens the flags' transaction in one round trip: its commit does not
// wait for a disk flush (a lost commit is redone: the sidecar's rows still say the
// flags are pending), and it never waits long behind an Odoo lock.
var beginFlags = "BEGIN; SET LOCAL synchronous_commit = off; " + setLockTimeout

// commitIfQuiet is the last look and the commit, one simple-protocol message. A
// transaction reads pg_stat_activity once and keeps what it read: the look clears
// that first.
const (
	busyAtCommit  = "WA001"
	commitIfQuiet = `DO $look$ BEGIN
	PERFORM pg_catalog.pg_stat_clear_snapshot();
	IF NOT ` + Quiet + ` THEN
		RAISE EXCEPTION 'an Odoo transaction began while WhatsApp flags were written' USING ERRCODE = '` + busyAtCommit + `';
	END IF;
END $look$; COMMIT`
)

// setFlagsStatement is the one statement that sets flags, writing only if the
// database is Quiet when it starts, and its arguments; "" when no flag applies.
func setFlagsStatement(flags []SentFlag) (string, []any) {
	type rows struct {
		ids, cols []int
		ats       []time.Time
		counted   []bool
		columns   []string // column of each col index
		counts    bool
	}
	byTable := map[string]*rows{}
	for _, sf := range flags {
		f, ok := sentFlags[sf.Kind]
		if !ok {
			continue
		}
		r := byTable[f.table]
		if r == nil {
			r = &rows{}
			byTable[f.table] = r
		}
		col := -1
		for i, c := range r.columns {
			if c == f.column {
				col = i
			}
		}
		if col < 0 {
			col = len(r.columns)
			r.columns = append(r.columns, f.column)
		}
		r.ids, r.cols, r.ats, r.counted = append(r.ids, sf.ResID), append(r.cols, col), append(r.ats, sf.At.UTC()), append(r.counted, f.counted)
		r.counts = r.counts || f.counted
	}
	if len(byTable) == 0 {
		return "", nil
	}
	tables := make([]string, 0, len(byTable))
	for t := range byTable {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	var b strings.Builder
	b.WriteString(flagsQuiet)
	var args []any
	for i, table := range tables {
		r := byTable[table]
		var set, agg []string
		for c, column := range r.columns {
			set = append(set, fmt.Sprintf(flagsSet, column, c))
			agg = append(agg, fmt.Sprintf(flagsLatest, c, c))
		}
		if r.counts {
			set = append(set, flagsCount)
			agg = append(agg, flagsCounted)
		}
		n := len(args)
		args = append(args, r.ids, r.cols, r.ats, r.counted)
		fmt.Fprintf(&b, flagsUpdate, i, table, strings.Join(set, ", "), strings.Join(agg, ", "), n+1, n+2, n+3, n+4)
	}
	b.WriteString(flagsResult)
	return b.String(), args
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
