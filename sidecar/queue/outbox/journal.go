package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The rest of whatsapp_message: the journal of received messages, and what the
// webhook's side asks of the messages the sidecar sent.

// Received is an inbound message as whatsapp_message records it.
type Received struct {
	ConfigID, ConversationID, ContactID int
	WaMessageID, Phone, ContactName     string
	Content, Type                       string
	ButtonID                            string // a click's button or list row id; Content holds its title
	MediaID, MimeType, Caption          string
	Raw                                 []byte
	// What it is about (the order or invoice of the message it answers).
	ResModel  string
	ResID     int
	ReplyTo   string // the wamid it answers
	ErrorCode int
	ErrorText string
	At        time.Time
}

// RecordReceived stores an inbound message and returns its row id; 0 when its wamid
// is recorded already (Meta delivers the same message more than once).
func RecordReceived(ctx context.Context, tx pgx.Tx, r Received) (int, error) {
	var id int
	err := tx.QueryRow(ctx, `
		INSERT INTO whatsapp_message (direction, config_id, conversation_id, wa_message_id, phone, contact_id, contact_name,
		    content, message_type, status, wa_status, media_id, media_mime_type, caption, raw_payload, res_model, res_id,
		    reply_to_wa_message_id, error_code, error_message, sent_at, button_id, attempts,
		    create_uid, create_date, write_uid, write_date)
		VALUES ('in', $1, $2, $3, $4, $5, $6, $7, $8, 'received', 'received', $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, 0,
		    1, `+now+`, 1, `+now+`)
		ON CONFLICT (wa_message_id) WHERE wa_message_id IS NOT NULL DO NOTHING
		RETURNING id`,
		nullInt(r.ConfigID), nullInt(r.ConversationID), r.WaMessageID, r.Phone, nullInt(r.ContactID), nullStr(r.ContactName),
		r.Content, r.Type, nullStr(r.MediaID), nullStr(r.MimeType), nullStr(r.Caption), string(r.Raw),
		nullStr(r.ResModel), nullInt(r.ResID), nullStr(r.ReplyTo), nullInt(r.ErrorCode), nullStr(r.ErrorText), r.At.UTC(), nullStr(r.ButtonID)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("record inbound message %s: %w", r.WaMessageID, err)
	}
	return id, nil
}

// About is the Odoo record a sent message was about.
type About struct {
	Model string // sale.order, account.move, ...; "" when none
	ID    int
	Name  string // the order's or invoice's name, when it is one
}

// AboutSent returns what the message the sidecar sent as wamid was about: a reply
// or a click answers it. Zero when wamid is not one of ours.
func AboutSent(ctx context.Context, q DBTX, wamid string) (About, error) {
	if wamid == "" {
		return About{}, nil
	}
	var a About
	var model *string
	var id *int
	err := q.QueryRow(ctx, `
		SELECT m.res_model, m.res_id, COALESCE(o.name, a.name, '')
		FROM whatsapp_message m
		LEFT JOIN sale_order o ON m.res_model = 'sale.order' AND o.id = m.res_id
		LEFT JOIN account_move a ON m.res_model = 'account.move' AND a.id = m.res_id
		WHERE m.wa_message_id = $1 AND m.direction = 'out'`, wamid).Scan(&model, &id, &a.Name)
	if errors.Is(err, pgx.ErrNoRows) {
		return About{}, nil
	}
	if err != nil {
		return About{}, fmt.Errorf("find what message %s was about: %w", wamid, err)
	}
	a.Model, a.ID = deref(model), intOf(id)
	return a, nil
}

// SentAbout says whether the sidecar sent a message about record (model, id) to one
// of numbers.
func SentAbout(ctx context.Context, q DBTX, model string, id int, numbers ...string) (bool, error) {
	var sent bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM whatsapp_message
		WHERE res_model = $1 AND res_id = $2 AND direction = 'out' AND phone = ANY($3))`, model, id, numbers).Scan(&sent)
	if err != nil {
		return false, fmt.Errorf("find messages sent about %s %d: %w", model, id, err)
	}
	return sent, nil
}

// ConfigOf is the whatsapp_config a row was sent from; 0 when it names none.
func ConfigOf(ctx context.Context, q DBTX, rowID int) (int, error) {
	var config *int
	err := q.QueryRow(ctx, `SELECT config_id FROM whatsapp_message WHERE id = $1`, rowID).Scan(&config)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("read the configuration of message %d: %w", rowID, err)
	}
	return intOf(config), nil
}
