// Package events is the whatsapp_sidecar.event table: what the capture triggers
// record inside Odoo's own transactions (that an order was created, changed state,
// that an invoice was posted or paid) and what the reminder scheduler adds, waiting
// to be composed into messages. It holds every statement on that table.
//
// A batch is claimed inside the composer's transaction (FOR UPDATE SKIP LOCKED) and
// deleted in the same transaction that queues its messages: an event is composed
// once or is still waiting, whatever crashes, and a claim dies with its transaction
// (its process, its connection), so nothing waits for a lease.
package events

import (
	"context"
	"errors"
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

// Event is one captured change.
type Event struct {
	ID       int64
	Model    string // sale.order, account.move
	ResID    int
	Kind     string // order_created, order_state, invoice_posted, invoice_residual, invoice_reminder
	OldValue string
	NewValue string
	Attempts int
}

// Kinds are the kinds of event, for documentation and metrics.
var Kinds = []string{"order_created", "order_state", "invoice_posted", "invoice_residual", "invoice_reminder"}

// splitSQL turns the rows a capture trigger wrote, one per statement and kind with
// the ids of every record the statement changed (one insert in Odoo's transaction,
// whatever the number of rows), into one event per record, in their order: the
// composer retries and parks records one by one.
const splitSQL = `
WITH statement AS (
    DELETE FROM whatsapp_sidecar.event WHERE id IN (
        SELECT id FROM whatsapp_sidecar.event WHERE res_ids IS NOT NULL ORDER BY id LIMIT 64 FOR UPDATE SKIP LOCKED)
    RETURNING id, model, kind, res_ids, old_values, new_values, created_at, available_at
)
INSERT INTO whatsapp_sidecar.event (model, res_id, kind, old_value, new_value, created_at, available_at)
SELECT s.model, r.res_id, s.kind, r.old_value, r.new_value, s.created_at, s.available_at
FROM statement s, unnest(s.res_ids, s.old_values, s.new_values) WITH ORDINALITY AS r(res_id, old_value, new_value, n)
ORDER BY s.id, r.n`

const claimSQL = `
SELECT id, model, res_id, kind, COALESCE(old_value, ''), COALESCE(new_value, ''), attempts
FROM whatsapp_sidecar.event
WHERE res_ids IS NULL AND available_at <= now()
ORDER BY id
LIMIT $1
FOR UPDATE SKIP LOCKED`

// Claim locks up to limit due events, oldest first, for the life of tx, after
// splitting the statements' rows into one event per record.
func Claim(ctx context.Context, tx pgx.Tx, limit int) ([]Event, error) {
	if _, err := tx.Exec(ctx, splitSQL); err != nil {
		return nil, fmt.Errorf("split captured statements into events: %w", err)
	}
	rows, err := tx.Query(ctx, claimSQL, limit)
	if err != nil {
		return nil, fmt.Errorf("claim events: %w", err)
	}
	evs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Event])
	if err != nil {
		return nil, fmt.Errorf("claim events: %w", err)
	}
	return evs, nil
}

// Lock locks one event for the life of tx; false when it is gone (composed) or
// locked by another composer.
func Lock(ctx context.Context, tx pgx.Tx, id int64) (bool, error) {
	var locked bool
	err := tx.QueryRow(ctx, `SELECT true FROM whatsapp_sidecar.event WHERE id = $1 FOR UPDATE SKIP LOCKED`, id).Scan(&locked)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("lock event %d: %w", id, err)
	}
	return true, nil
}

// Delete settles composed events, in the transaction that queued their messages.
func Delete(ctx context.Context, tx pgx.Tx, ids []int64) error {
	if _, err := tx.Exec(ctx, `DELETE FROM whatsapp_sidecar.event WHERE id = ANY($1)`, ids); err != nil {
		return fmt.Errorf("delete composed events: %w", err)
	}
	return nil
}

// Forever is the available_at of a parked event: kept with its error for an
// operator, who makes it due again by setting available_at.
var Forever = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// Retry makes a failed event due again at next (Forever parks it), recording the
// attempt and its error.
func Retry(ctx context.Context, q DBTX, e Event, next time.Time, cause string) error {
	_, err := q.Exec(ctx, `UPDATE whatsapp_sidecar.event SET attempts = $2, available_at = $3, last_error = $4 WHERE id = $1`,
		e.ID, e.Attempts+1, next, cause)
	if err != nil {
		return fmt.Errorf("record failed event %d: %w", e.ID, err)
	}
	return nil
}

// Add records events written by the sidecar itself (the reminder scheduler) and
// wakes the composer when tx commits.
func Add(ctx context.Context, tx pgx.Tx, evs []Event) error {
	if len(evs) == 0 {
		return nil
	}
	models, kinds, news := make([]string, len(evs)), make([]string, len(evs)), make([]string, len(evs))
	ids := make([]int, len(evs))
	for i, e := range evs {
		models[i], ids[i], kinds[i], news[i] = e.Model, e.ResID, e.Kind, e.NewValue
	}
	if _, err := tx.Exec(ctx, `INSERT INTO whatsapp_sidecar.event (model, res_id, kind, new_value)
		SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[])`, models, ids, kinds, news); err != nil {
		return fmt.Errorf("record %d events: %w", len(evs), err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify('whatsapp_sidecar', 'event')`); err != nil {
		return fmt.Errorf("wake the composer: %w", err)
	}
	return nil
}
