// Package inbox is the webhook's side of the sidecar's queues: whatsapp_sidecar.inbox,
// Meta's deliveries stored raw (the exact signed bytes) before any processing, and
// whatsapp_sidecar.inbound, one claim per inbound message so a click runs once. It
// holds every statement on both tables.
//
// A delivery is claimed by its processor's owner (package owner): the claim is valid
// while that process lives and void the moment it dies, so a status delivery stored
// and claimed by a killed process is taken over by the next one at once. That is
// what lets the sender promise: a send of unknown fate is resent only after every
// delivery received before its resend time has been applied (see outbox).
package inbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/owner"
)

// DBTX is a pool, a connection or a transaction.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Delivery is one stored webhook delivery.
type Delivery struct {
	ID         int64
	Body       []byte
	Attempts   int // including this one
	ReceivedAt time.Time
}

// Store inserts deliveries (bodies and their X-Hub-Signature-256 headers) in one
// statement; they are durable when it returns nil.
func Store(ctx context.Context, q DBTX, bodies [][]byte, signatures []string) error {
	if _, err := q.Exec(ctx, `INSERT INTO whatsapp_sidecar.inbox (body, signature)
		SELECT * FROM unnest($1::bytea[], $2::text[])`, bodies, signatures); err != nil {
		return fmt.Errorf("store %d deliveries: %w", len(bodies), err)
	}
	return nil
}

// claimSQL takes due deliveries that nobody alive holds.
var claimSQL = `
UPDATE whatsapp_sidecar.inbox i SET claimed_by = $2, attempts = i.attempts + 1
FROM (SELECT id FROM whatsapp_sidecar.inbox
      WHERE processed_at IS NULL AND available_at <= now()
        AND (claimed_by IS NULL OR claimed_by NOT IN ` + owner.Live + `)
      ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) due
WHERE i.id = due.id
RETURNING i.id, i.body, i.attempts, i.received_at`

// Claim takes up to limit due deliveries for o, oldest first. The claim is made on
// o's own connection: it fails, rather than claim for an owner that is gone.
func Claim(ctx context.Context, o *owner.Owner, limit int) ([]Delivery, error) {
	var out []Delivery
	err := o.Do(ctx, func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, claimSQL, limit, o.ID)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Delivery])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	return out, nil
}

// Processed settles a delivery; malformed, when not empty, says why it was kept
// without being processed (not Meta's envelope).
func Processed(ctx context.Context, q DBTX, id int64, malformed string) error {
	if _, err := q.Exec(ctx, `UPDATE whatsapp_sidecar.inbox SET processed_at = now(), claimed_by = NULL,
		last_error = NULLIF($2, '') WHERE id = $1`, id, malformed); err != nil {
		return fmt.Errorf("record processed delivery %d: %w", id, err)
	}
	return nil
}

// Retry gives a failed delivery back, due again after wait.
func Retry(ctx context.Context, q DBTX, id int64, wait time.Duration, cause string) error {
	if _, err := q.Exec(ctx, `UPDATE whatsapp_sidecar.inbox SET claimed_by = NULL,
		available_at = now() + make_interval(secs => $3), last_error = $2
		WHERE id = $1 AND processed_at IS NULL`, id, cause, wait.Seconds()); err != nil {
		return fmt.Errorf("record failed delivery %d: %w", id, err)
	}
	return nil
}

// Park sets a delivery aside for an operator, with its error: it is kept, never
// processed again until someone sets its available_at back to now.
func Park(ctx context.Context, q DBTX, id int64, cause string) error {
	if _, err := q.Exec(ctx, `UPDATE whatsapp_sidecar.inbox SET claimed_by = NULL, available_at = 'infinity',
		last_error = $2 WHERE id = $1 AND processed_at IS NULL`, id, cause); err != nil {
		return fmt.Errorf("park delivery %d: %w", id, err)
	}
	return nil
}

// Purge deletes processed deliveries and done message claims older than retention
// (Meta retries for up to 7 days: keep them longer).
func Purge(ctx context.Context, q DBTX, retention time.Duration) error {
	secs := retention.Seconds()
	if _, err := q.Exec(ctx, `DELETE FROM whatsapp_sidecar.inbox WHERE id IN (
		SELECT id FROM whatsapp_sidecar.inbox WHERE processed_at < now() - make_interval(secs => $1) LIMIT 10000)`, secs); err != nil {
		return fmt.Errorf("purge inbox: %w", err)
	}
	if _, err := q.Exec(ctx, `DELETE FROM whatsapp_sidecar.inbound WHERE wa_message_id IN (
		SELECT wa_message_id FROM whatsapp_sidecar.inbound WHERE done_at < now() - make_interval(secs => $1) LIMIT 10000)`, secs); err != nil {
		return fmt.Errorf("purge message claims: %w", err)
	}
	return nil
}

// UnappliedBefore is a SQL condition, true while a delivery received at or before
// the timestamp expression at is stored and not yet applied (parked ones, set aside
// for an operator, excepted): the sender resends a send of unknown fate only when
// it is false for the resend time.
func UnappliedBefore(at string) string {
	return `EXISTS (SELECT 1 FROM whatsapp_sidecar.inbox i WHERE i.processed_at IS NULL
        AND i.available_at <> 'infinity' AND i.received_at <= ` + at + `)`
}

// claimMessageSQL takes an inbound message for its processor, unless it is
// recorded already or a live processor holds it.
var claimMessageSQL = `
INSERT INTO whatsapp_sidecar.inbound AS c (wa_message_id, claimed_by)
SELECT $1, $2
WHERE NOT EXISTS (SELECT 1 FROM public.whatsapp_message WHERE wa_message_id = $1)
ON CONFLICT (wa_message_id) DO UPDATE SET claimed_by = EXCLUDED.claimed_by, attempts = c.attempts + 1
    WHERE c.done_at IS NULL AND (c.claimed_by IS NULL OR c.claimed_by NOT IN ` + owner.Live + `)
RETURNING attempts`

// ClaimMessage takes the inbound message wamid for ownerID: Meta may deliver the
// same message twice at once (two deliveries, two replicas) and a click must run
// once. It returns the attempt number, 0 when the message is not this owner's to
// process (recorded already, or held by a live processor).
func ClaimMessage(ctx context.Context, q DBTX, ownerID int32, wamid string) (int, error) {
	var attempt int
	err := q.QueryRow(ctx, claimMessageSQL, wamid, ownerID).Scan(&attempt)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("claim message %s: %w", wamid, err)
	}
	return attempt, nil
}

// ReleaseMessage gives a message back after a failure, for the retry of its
// delivery to take at once.
func ReleaseMessage(ctx context.Context, q DBTX, wamid string) error {
	if _, err := q.Exec(ctx, `UPDATE whatsapp_sidecar.inbound SET claimed_by = NULL
		WHERE wa_message_id = $1 AND done_at IS NULL`, wamid); err != nil {
		return fmt.Errorf("release message %s: %w", wamid, err)
	}
	return nil
}

// MessageDone marks a message processed, in the transaction that records it.
func MessageDone(ctx context.Context, tx pgx.Tx, wamid string) error {
	if _, err := tx.Exec(ctx, `UPDATE whatsapp_sidecar.inbound SET done_at = now(), claimed_by = NULL
		WHERE wa_message_id = $1`, wamid); err != nil {
		return fmt.Errorf("mark message %s done: %w", wamid, err)
	}
	return nil
}

// ProcessedMany settles deliveries processed together, in the transaction that
// applied them.
func ProcessedMany(ctx context.Context, q DBTX, ids []int64) error {
	if _, err := q.Exec(ctx, `UPDATE whatsapp_sidecar.inbox SET processed_at = now(), claimed_by = NULL, last_error = NULL
		WHERE id = ANY($1)`, ids); err != nil {
		return fmt.Errorf("record %d processed deliveries: %w", len(ids), err)
	}
	return nil
}
