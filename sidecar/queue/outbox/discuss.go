package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// What Odoo Discuss shows of whatsapp_message: each message of a conversation is
// also a mail_message in the conversation's channel (discuss_message_id), and
// discuss_shown is the status that channel shows. A row whose discuss_shown differs
// from its status is behind (whatsapp_message_discuss_pending_index holds only
// those); 'history' marks the rows older than the Discuss inbox, never posted.

// DiscussRow is a message the channel of its conversation is behind on.
type DiscussRow struct {
	ID               int
	Direction        string // in, out
	Status           string
	Shown            string // the status the channel shows; "" when not posted yet
	DiscussMessageID int
	ConfigID         int
	ConversationID   int
	ContactID        int
	Phone            string
	ContactName      string
	Content          string
	Caption          string
	Type             string
	Kind             string
	Buttons          string // JSON, as queued
	TemplateName     string
	AttachmentID     int
	ErrorCode        int
	ErrorMessage     string
	ResModel         string
	ResID            int
	Raw              string    // raw_payload: Meta's message JSON for received rows
	At               time.Time // when it was sent or received
	Recorded         time.Time // create_date: when the row was written
}

// discussBehind is the predicate of whatsapp_message_discuss_pending_index
// (migration 030), written as the index is, so PostgreSQL reads the index: the rows
// behind that the channel can act on. An outbound row is posted once it has left (or
// failed): a queued notification has no number yet, and the sender's claim must not
// find it locked; one already posted (an operator's answer, linked to the
// operator's own message) follows its status from queued on.
const discussBehind = `discuss_shown IS DISTINCT FROM status AND discuss_shown IS DISTINCT FROM 'history'
  AND (direction = 'in' OR discuss_message_id IS NOT NULL OR status NOT IN ('queued', 'sending', 'draft'))`

// DiscussBehind says whether Discuss is behind on any message: one look at the
// partial index, cheap enough to ask several times a second.
func DiscussBehind(ctx context.Context, q DBTX) (bool, error) {
	var behind bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM whatsapp_message WHERE `+discussBehind+`)`).Scan(&behind); err != nil {
		return false, fmt.Errorf("look for messages Discuss is behind on: %w", err)
	}
	return behind, nil
}

// discussPendingSQL lists the rows behind, oldest first.
const discussPendingSQL = `
SELECT id, direction, COALESCE(status, ''), COALESCE(discuss_shown, ''), COALESCE(discuss_message_id, 0),
    COALESCE(config_id, 0), COALESCE(conversation_id, 0), COALESCE(contact_id, 0), COALESCE(phone, ''),
    COALESCE(contact_name, ''), COALESCE(content, ''), COALESCE(caption, ''), COALESCE(message_type, ''),
    COALESCE(kind, ''), COALESCE(buttons, ''), COALESCE(template_name, ''), COALESCE(attachment_id, 0),
    COALESCE(error_code, 0), COALESCE(error_message, ''), COALESCE(res_model, ''), COALESCE(res_id, 0),
    CASE WHEN direction = 'in' THEN COALESCE(raw_payload, '') ELSE '' END,
    COALESCE(sent_at, create_date, ` + now + `), COALESCE(create_date, ` + now + `)
FROM whatsapp_message
WHERE ` + discussBehind + `
ORDER BY id
LIMIT $1`

// DiscussPending returns up to limit rows the Discuss channels are behind on.
func DiscussPending(ctx context.Context, q DBTX, limit int) ([]DiscussRow, error) {
	rows, err := q.Query(ctx, discussPendingSQL, limit)
	if err != nil {
		return nil, fmt.Errorf("read the messages Discuss is behind on: %w", err)
	}
	defer rows.Close()
	var out []DiscussRow
	for rows.Next() {
		var r DiscussRow
		if err := rows.Scan(&r.ID, &r.Direction, &r.Status, &r.Shown, &r.DiscussMessageID, &r.ConfigID, &r.ConversationID,
			&r.ContactID, &r.Phone, &r.ContactName, &r.Content, &r.Caption, &r.Type, &r.Kind, &r.Buttons, &r.TemplateName,
			&r.AttachmentID, &r.ErrorCode, &r.ErrorMessage, &r.ResModel, &r.ResID, &r.Raw, &r.At, &r.Recorded); err != nil {
			return nil, fmt.Errorf("read the messages Discuss is behind on: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the messages Discuss is behind on: %w", err)
	}
	return out, nil
}

// DiscussState is where a row and its channel stand.
type DiscussState struct {
	Status, Shown    string
	DiscussMessageID int
}

// DiscussStateOf reads row id's DiscussState; found is false when it is gone.
func DiscussStateOf(ctx context.Context, q DBTX, id int) (s DiscussState, found bool, err error) {
	err = q.QueryRow(ctx, `SELECT COALESCE(status, ''), COALESCE(discuss_shown, ''), COALESCE(discuss_message_id, 0)
		FROM whatsapp_message WHERE id = $1`, id).Scan(&s.Status, &s.Shown, &s.DiscussMessageID)
	if errors.Is(err, pgx.ErrNoRows) {
		return DiscussState{}, false, nil
	}
	if err != nil {
		return DiscussState{}, false, fmt.Errorf("read what Discuss shows of message %d: %w", id, err)
	}
	return s, true, nil
}

// DiscussShown records what the channel now shows of row id: status shown, the
// mail_message it is (0 keeps the one it has), and the conversation and partner
// the channel found for it (0 keeps the row's own). Only the Discuss columns and the
// links it did not have change: the sender's and the webhook's columns are theirs.
type DiscussShown struct {
	ID               int
	Shown            string
	DiscussMessageID int
	ConversationID   int
	ContactID        int
}

// MarkDiscussShown records one row's DiscussShown, in the transaction that posted it.
func MarkDiscussShown(ctx context.Context, q DBTX, s DiscussShown) error {
	_, err := q.Exec(ctx, `
		UPDATE whatsapp_message SET discuss_shown = $2,
		    discuss_message_id = COALESCE(NULLIF($3, 0), discuss_message_id),
		    conversation_id = COALESCE(conversation_id, NULLIF($4, 0)),
		    contact_id = COALESCE(contact_id, NULLIF($5, 0))
		WHERE id = $1`, s.ID, s.Shown, s.DiscussMessageID, s.ConversationID, s.ContactID)
	if err != nil {
		return fmt.Errorf("record what Discuss shows of message %d: %w", s.ID, err)
	}
	return nil
}

// ByDiscussMessage returns the rows an operator's mail_message became (one per
// file, or one for the text), empty when it was not captured yet.
func ByDiscussMessage(ctx context.Context, q DBTX, discussMessageID int) ([]int, error) {
	rows, err := q.Query(ctx, `SELECT id FROM whatsapp_message WHERE discuss_message_id = $1 ORDER BY id`, discussMessageID)
	if err != nil {
		return nil, fmt.Errorf("find the messages of Discuss message %d: %w", discussMessageID, err)
	}
	defer rows.Close()
	var ids []int
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("find the messages of Discuss message %d: %w", discussMessageID, err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// EnqueueFromDiscuss queues what an operator wrote in a conversation's channel
// (or records it failed, with the reason it was not sent) as rows linked to the
// operator's mail_message, which the channel already shows with the status given:
// msgs carry their DedupKey, so the same capture processed twice queues once.
// It returns the ids of the rows inserted now.
func EnqueueFromDiscuss(ctx context.Context, q DBTX, discussMessageID int, msgs ...Message) ([]int, error) {
	ids, err := Enqueue(ctx, q, msgs...)
	if err != nil || len(ids) == 0 {
		return ids, err
	}
	if _, err := q.Exec(ctx, `UPDATE whatsapp_message SET discuss_message_id = $2, discuss_shown = status WHERE id = ANY($1)`,
		ids, discussMessageID); err != nil {
		return nil, fmt.Errorf("link messages %v to Discuss message %d: %w", ids, discussMessageID, err)
	}
	return ids, nil
}

// DiscussMessageOf is the mail_message the message wamid is in its channel (a
// reaction's target), 0 when it is not posted.
func DiscussMessageOf(ctx context.Context, q DBTX, wamid string) (int, error) {
	var id int
	err := q.QueryRow(ctx, `SELECT COALESCE(discuss_message_id, 0) FROM whatsapp_message WHERE wa_message_id = $1`, wamid).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("find the Discuss message of %s: %w", wamid, err)
	}
	return id, nil
}
