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

// applyStatusesSQL is ApplyStatus for a batch: each update finds its row (by wamid,
// else by the callback row id), the updates of one row are folded (the highest
// status, the earliest time of each), the rows are locked in id order (replicas
// applying batches at once cannot deadlock) and moved forward only, in one
// statement. It returns, per update in order, the row and its status before and
// after.
var applyStatusesSQL = `
WITH u AS (
    SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::timestamp[], $5::text[])
        WITH ORDINALITY AS u(wamid, row_id, status, at, conv, ord)
), t AS (
    SELECT u.ord, u.wamid, u.status, u.at, NULLIF(u.conv, '') AS conv, m.id AS target
    FROM u LEFT JOIN LATERAL (
        SELECT w.id FROM whatsapp_message w
        WHERE w.direction = 'out' AND (
            (w.wa_message_id = u.wamid AND u.wamid <> '')
            OR (w.id = u.row_id AND (w.wa_message_id IS NULL OR w.wa_message_id = u.wamid)))
        ORDER BY (w.wa_message_id = u.wamid) DESC NULLS LAST
        LIMIT 1) m ON true
), agg AS (
    SELECT target,
        (array_agg(status ORDER BY ` + rank("status") + ` DESC))[1] AS best,
        max(NULLIF(wamid, '')) AS wamid, max(conv) AS conv,
        min(at) FILTER (WHERE status IN ('sent', 'delivered', 'read')) AS sent_at,
        min(at) FILTER (WHERE status IN ('delivered', 'read')) AS delivered_at,
        min(at) FILTER (WHERE status = 'read') AS read_at
    FROM t WHERE target IS NOT NULL GROUP BY target
), locked AS (
    SELECT m.id, m.status AS old_status FROM whatsapp_message m JOIN agg ON agg.target = m.id ORDER BY m.id FOR UPDATE OF m
), moved AS (
    SELECT l.id, l.old_status, a.best, a.wamid, a.conv, a.sent_at, a.delivered_at, a.read_at,
        (l.old_status <> 'failed' AND ` + rank("a.best") + ` > ` + rank("l.old_status") + `) AS forward
    FROM locked l JOIN agg a ON a.target = l.id
), upd AS (
    UPDATE whatsapp_message m SET
        status = CASE WHEN mv.forward THEN mv.best ELSE m.status END,
        note_pending = CASE WHEN mv.forward THEN ` + writeBack("note_pending", "mv.old_status") + ` ELSE m.note_pending END,
        flags_pending = CASE WHEN mv.forward THEN ` + writeBack("flags_pending", "mv.old_status") + ` ELSE m.flags_pending END,
        claimed_by = CASE WHEN mv.forward THEN NULL ELSE m.claimed_by END,
        wa_message_id = COALESCE(m.wa_message_id, mv.wamid),
        wa_status = CASE WHEN mv.forward THEN mv.best ELSE m.wa_status END,
        wa_conversation_id = COALESCE(m.wa_conversation_id, mv.conv),
        sent_at = COALESCE(m.sent_at, mv.sent_at),
        delivered_at = COALESCE(m.delivered_at, mv.delivered_at),
        read_at = COALESCE(m.read_at, mv.read_at),
        next_attempt_at = CASE WHEN mv.forward THEN NULL ELSE m.next_attempt_at END,
        write_date = ` + now + `
    FROM moved mv
    WHERE m.id = mv.id
    RETURNING m.id, mv.old_status, m.status
)
SELECT t.target, COALESCE(upd.old_status, ''), COALESCE(upd.status, '') FROM t LEFT JOIN upd ON upd.id = t.target ORDER BY t.ord`

// ApplyStatuses applies the sent, delivered and read reports of a batch of webhook
// deliveries in one statement (a failed report goes through ApplyStatus: it has
// more to do). It returns what each update did, in order: Found, and Changed when
// its row moved to this update's status.
func ApplyStatuses(ctx context.Context, q DBTX, updates []StatusUpdate) ([]Applied, error) {
	n := len(updates)
	if n == 0 {
		return nil, nil
	}
	wamids, statuses, convs := make([]string, n), make([]string, n), make([]string, n)
	rowIDs, ats := make([]int, n), make([]time.Time, n)
	for i, u := range updates {
		if u.Status == StatusFailed {
			return nil, fmt.Errorf("apply statuses: a failed report goes through ApplyStatus")
		}
		wamids[i], rowIDs[i], statuses[i], ats[i], convs[i] = u.WaMessageID, u.RowID, u.Status, utc(u.Timestamp), u.WaConversationID
	}
	rows, err := q.Query(ctx, applyStatusesSQL, wamids, rowIDs, statuses, ats, convs)
	if err != nil {
		return nil, fmt.Errorf("apply %d statuses: %w", n, err)
	}
	defer rows.Close()
	out := make([]Applied, 0, n)
	for i := 0; rows.Next(); i++ {
		var target *int
		var a Applied
		if err := rows.Scan(&target, &a.OldStatus, &a.NewStatus); err != nil {
			return nil, fmt.Errorf("apply %d statuses: %w", n, err)
		}
		if target != nil {
			a.Found, a.RowID = true, *target
			a.Changed = a.OldStatus != a.NewStatus && a.NewStatus == updates[i].Status
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("apply %d statuses: %w", n, err)
	}
	return out, nil
}
