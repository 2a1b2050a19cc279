package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// WriteBack is a sent message whose trace in Odoo is still to write: the chatter
// note on the order or invoice it is about, or that record's x_whatsapp_* flags.
type WriteBack struct {
	RowID    int
	ResModel string
	ResID    int
	Kind     string
	Phone    string
	Type     string
	Content  string
	Caption  string
	Params   map[string]string
	SentAt   time.Time
}

const writeBackColumns = `id, res_model, res_id, COALESCE(kind, ''), COALESCE(phone, ''), COALESCE(message_type, ''),
    COALESCE(content, ''), COALESCE(caption, ''), COALESCE(params, ''), COALESCE(sent_at, write_date)`

// PendingNotes returns up to limit sent rows whose chatter note is not written yet.
func PendingNotes(ctx context.Context, q DBTX, limit int) ([]WriteBack, error) {
	return pending(ctx, q, "note_pending", limit)
}

// PendingFlags returns up to limit sent rows whose record's flags are not written yet.
func PendingFlags(ctx context.Context, q DBTX, limit int) ([]WriteBack, error) {
	return pending(ctx, q, "flags_pending", limit)
}

func pending(ctx context.Context, q DBTX, col string, limit int) ([]WriteBack, error) {
	rows, err := q.Query(ctx, `SELECT `+writeBackColumns+` FROM whatsapp_message WHERE `+col+` ORDER BY id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("read messages to write back (%s): %w", col, err)
	}
	defer rows.Close()
	var out []WriteBack
	for rows.Next() {
		var w WriteBack
		var params string
		if err := rows.Scan(&w.RowID, &w.ResModel, &w.ResID, &w.Kind, &w.Phone, &w.Type, &w.Content, &w.Caption, &params, &w.SentAt); err != nil {
			return nil, fmt.Errorf("read messages to write back (%s): %w", col, err)
		}
		if params != "" {
			_ = json.Unmarshal([]byte(params), &w.Params) // junk written by hand: no name in the note
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read messages to write back (%s): %w", col, err)
	}
	return out, nil
}

// clearPending clears a write-back column of rows $1, locking them in id order as
// the status reports do (ApplyStatuses): the two wait for each other, never
// deadlock.
const clearPending = `UPDATE whatsapp_message m SET %[1]s = NULL
FROM (SELECT id FROM whatsapp_message WHERE id = ANY($1) AND %[1]s ORDER BY id FOR UPDATE) l
WHERE m.id = l.id`

// NotesWritten clears the note of rows ids, in the transaction that wrote them.
func NotesWritten(ctx context.Context, tx DBTX, ids []int) error {
	if _, err := tx.Exec(ctx, fmt.Sprintf(clearPending, "note_pending"), ids); err != nil {
		return fmt.Errorf("mark %d chatter notes written: %w", len(ids), err)
	}
	return nil
}

// FlagsWritten clears the flags of rows ids, in the transaction that wrote them.
func FlagsWritten(ctx context.Context, tx DBTX, ids []int) error {
	if _, err := tx.Exec(ctx, fmt.Sprintf(clearPending, "flags_pending"), ids); err != nil {
		return fmt.Errorf("mark %d flags written: %w", len(ids), err)
	}
	return nil
}
