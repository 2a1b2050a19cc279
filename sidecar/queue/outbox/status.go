package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// StatusUpdate is one status report about an outbound message: from Meta's status
// webhook, or from the sender's own answer.
type StatusUpdate struct {
	WaMessageID string
	// RowID comes from biz_opaque_callback_data (RowFromCallbackData); it finds a
	// row whose wamid was never recorded (the sender crashed before writing it).
	RowID     int
	Status    string // sent, delivered, read, failed
	Timestamp time.Time
	// For failed: Meta's error.
	ErrorCode    int
	ErrorMessage string
	// WaConversationID is Meta's conversation id, when the webhook carries one.
	WaConversationID string
}

// Applied says what a StatusUpdate did.
type Applied struct {
	RowID     int
	Found     bool   // a row matched
	Changed   bool   // its status moved forward
	OldStatus string // before the update
	NewStatus string
	Kind      string
	ResModel  string
	ResID     int
}

// ApplyStatus records a status if it moves the row forward; duplicates, and
// statuses arriving out of order, change nothing but the wamid and timestamps the
// row did not have yet.
func ApplyStatus(ctx context.Context, q DBTX, u StatusUpdate) (Applied, error) {
	var a Applied
	var kind, resModel *string
	var resID *int
	err := q.QueryRow(ctx, applyStatusSQL, u.WaMessageID, u.RowID, u.Status, utc(u.Timestamp),
		nullInt(u.ErrorCode), nullStr(u.ErrorMessage), nullStr(u.WaConversationID)).
		Scan(&a.RowID, &a.OldStatus, &a.NewStatus, &kind, &resModel, &resID)
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return Applied{}, nil
		}
		return Applied{}, fmt.Errorf("apply status %s: %w", u.Status, err)
	}
	a.Found = true
	a.Changed = a.OldStatus != a.NewStatus
	a.Kind, a.ResModel = deref(kind), deref(resModel)
	if resID != nil {
		a.ResID = *resID
	}
	return a, nil
}

// applyStatusSQL finds the row by wamid, else by the callback row id (only an
// outbound row that has no other wamid), locks it, and moves it forward.
var applyStatusSQL = `
WITH target AS (
    SELECT id, status FROM whatsapp_message
    WHERE direction = 'out' AND (
        (wa_message_id = $1 AND $1 <> '')
        OR (id = $2 AND (wa_message_id IS NULL OR wa_message_id = $1)))
    ORDER BY (wa_message_id = $1) DESC NULLS LAST
    LIMIT 1
    FOR UPDATE
), moved AS (
    SELECT t.id, t.status AS old_status,
        (t.status <> 'failed' AND ` + rank("$3::text") + ` > ` + rank("t.status") + `) AS forward
    FROM target t
)
UPDATE whatsapp_message m SET
    status = CASE WHEN mv.forward THEN $3 ELSE m.status END,
    note_pending = CASE WHEN mv.forward AND $3 <> 'failed' THEN ` + writeBack("note_pending", "mv.old_status") + ` ELSE m.note_pending END,
    flags_pending = CASE WHEN mv.forward AND $3 <> 'failed' THEN ` + writeBack("flags_pending", "mv.old_status") + ` ELSE m.flags_pending END,
    claimed_by = CASE WHEN mv.forward THEN NULL ELSE m.claimed_by END,
    wa_message_id = COALESCE(m.wa_message_id, NULLIF($1, '')),
    wa_status = CASE WHEN mv.forward THEN $3 ELSE m.wa_status END,
    wa_conversation_id = COALESCE(m.wa_conversation_id, $7),
    sent_at = CASE WHEN $3 IN ('sent', 'delivered', 'read') THEN COALESCE(m.sent_at, $4) ELSE m.sent_at END,
    delivered_at = CASE WHEN $3 IN ('delivered', 'read') THEN COALESCE(m.delivered_at, $4) ELSE m.delivered_at END,
    read_at = CASE WHEN $3 = 'read' THEN COALESCE(m.read_at, $4) ELSE m.read_at END,
    failed_at = CASE WHEN mv.forward AND $3 = 'failed' THEN $4 ELSE m.failed_at END,
    error_code = CASE WHEN mv.forward AND $3 = 'failed' THEN $5 ELSE m.error_code END,
    error_message = CASE WHEN mv.forward AND $3 = 'failed' THEN $6 ELSE m.error_message END,
    next_attempt_at = CASE WHEN mv.forward THEN NULL ELSE m.next_attempt_at END,
    write_date = ` + now + `
FROM moved mv
WHERE m.id = mv.id
RETURNING m.id, mv.old_status, m.status, m.kind, m.res_model, m.res_id`
