// Package capture is the whatsapp_sidecar.discuss_capture table: what the Discuss
// triggers record inside Odoo's own transactions (migration 030), one row per
// statement: the ids of the messages operators wrote in WhatsApp channels, or of the
// conversations closed, reopened or assigned in Odoo's form, with their old and new
// "state:assigned_user_id". It holds every statement on that table.
//
// A row is visible once Odoo's transaction commits (a rolled-back post sends
// nothing), claimed inside the discuss worker's transaction (FOR UPDATE SKIP
// LOCKED) and deleted in the transaction that acts on it: acted on once or still
// waiting, whatever crashes.
package capture

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DBTX is a pool, a connection or a transaction.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Kinds of capture.
const (
	KindMessage      = "message"      // ResIDs are mail_message ids
	KindConversation = "conversation" // ResIDs are whatsapp_conversation ids
)

// Capture is one captured statement.
type Capture struct {
	ID        int64
	Kind      string
	ResIDs    []int
	OldValues []string
	NewValues []string
	Attempts  int
}

// Claim locks up to limit due captures, oldest first, for the life of tx.
func Claim(ctx context.Context, tx pgx.Tx, limit int) ([]Capture, error) {
	rows, err := tx.Query(ctx, `
		SELECT id, kind, res_ids, COALESCE(old_values, '{}'), COALESCE(new_values, '{}'), attempts
		FROM whatsapp_sidecar.discuss_capture
		WHERE available_at <= now()
		ORDER BY id LIMIT $1
		FOR UPDATE SKIP LOCKED`, limit)
	if err != nil {
		return nil, fmt.Errorf("claim Discuss captures: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Capture])
	if err != nil {
		return nil, fmt.Errorf("claim Discuss captures: %w", err)
	}
	return out, nil
}

// Delete settles captures, in the transaction that acted on them.
func Delete(ctx context.Context, tx pgx.Tx, ids ...int64) error {
	if _, err := tx.Exec(ctx, `DELETE FROM whatsapp_sidecar.discuss_capture WHERE id = ANY($1)`, ids); err != nil {
		return fmt.Errorf("delete Discuss captures: %w", err)
	}
	return nil
}

// Retry makes a capture that failed due again at next, recording the attempt and
// its error.
func Retry(ctx context.Context, q DBTX, c Capture, next time.Time, cause string) error {
	_, err := q.Exec(ctx, `UPDATE whatsapp_sidecar.discuss_capture SET attempts = $2, available_at = $3, last_error = $4 WHERE id = $1`,
		c.ID, c.Attempts+1, next, cause)
	if err != nil {
		return fmt.Errorf("record failed Discuss capture %d: %w", c.ID, err)
	}
	return nil
}

// Pending counts the captures waiting, for metrics and tests.
func Pending(ctx context.Context, q DBTX) (int, error) {
	var n int
	if err := q.QueryRow(ctx, `SELECT count(*) FROM whatsapp_sidecar.discuss_capture`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count Discuss captures: %w", err)
	}
	return n, nil
}
