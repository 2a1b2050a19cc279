package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Settled is what became of a row: its status, Meta's message id and the last error.
type Settled struct {
	Status       string
	WaMessageID  string
	ErrorMessage string
}

// Done says whether the row will not move without Meta or a person: Meta accepted
// it, or it failed.
func (s Settled) Done() bool {
	switch s.Status {
	case StatusSent, StatusDelivered, StatusRead, StatusFailed:
		return true
	}
	return false
}

// Wait reads row id every poll until it is Done or ctx ends, and returns the last
// state read (with ctx's error when it ended first). The row is the only place the
// answer is written, whichever replica sends it.
func Wait(ctx context.Context, q DBTX, id int, poll time.Duration) (Settled, error) {
	tick := time.NewTicker(poll)
	defer tick.Stop()
	var s Settled
	for {
		err := q.QueryRow(ctx, `SELECT status, COALESCE(wa_message_id, ''), COALESCE(error_message, '')
			FROM whatsapp_message WHERE id = $1`, id).Scan(&s.Status, &s.WaMessageID, &s.ErrorMessage)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return s, fmt.Errorf("message %d does not exist", id)
		case err != nil && ctx.Err() == nil:
			return s, fmt.Errorf("read message %d: %w", id, err)
		case s.Done():
			return s, nil
		}
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case <-tick.C:
		}
	}
}
