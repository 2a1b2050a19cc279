// Package outbox is the whatsapp_message table, and holds every statement that
// writes it: the send queue (every message the sidecar sends is first a row with
// status 'queued', so nothing is lost and the log is the queue, and anyone, the
// composer, a webhook reply, an Odoo server action, plain SQL, queues a message by
// inserting such a row), and the journal of received messages (journal.go).
//
// Statuses only move forward: queued -> sending -> sent -> delivered -> read; failed
// is final, a late 'delivered' never overwrites 'read'; 'unknown' is a send whose
// answer was lost. Exactly once at Meta rests on four rules, each kept by one
// statement here:
//
//  1. A row is claimed by one live owner (package owner) at a time: Claim runs on the
//     owner's own connection, FOR UPDATE SKIP LOCKED. A claim whose owner died is
//     void at once (Rescue).
//  2. A request leaves for Meta only after its owner has recorded the dispatch
//     (Dispatch, on the owner's connection, so it fails if the owner is gone). A
//     void claim without dispatched_at was never sent: it is queued again at once.
//     One with it may have reached Meta: it becomes 'unknown'.
//  3. A send of unknown fate is never resent while Meta's answer may still come: not
//     before UnknownPolicy.ResendAfter from the moment it became unknown, not while a
//     webhook delivery received before its resend time is stored and unapplied
//     (inbox.UnappliedBefore), and never automatically when the policy holds it for
//     a person. Meta's status webhook (biz_opaque_callback_data = the row id) settles
//     it as sent whenever it comes (ApplyStatus).
//  4. A row's status never moves backwards (statusRank), whoever writes last.
package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify"
)

// DBTX is a pool, a connection or a transaction.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Statuses of whatsapp_message.status.
const (
	StatusQueued    = "queued"
	StatusSending   = "sending"
	StatusUnknown   = "unknown" // dispatched, answer lost: Meta may have it
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusRead      = "read"
	StatusFailed    = "failed"
	StatusReceived  = "received" // inbound messages
)

// Message is a row to queue: a message to a customer (what notify renders) and how
// it is delivered. Zero values are stored as NULL.
type Message struct {
	notify.Message

	ConversationID int
	MediaID        string
	MediaURL       string
	AttachmentID   int
	ReplyTo        string // wamid this message answers

	TemplateName       string
	TemplateLanguage   string
	TemplateComponents string // JSON, Meta's components array

	// DedupKey places the message among its record's notifications:
	// (ResModel, ResID, Kind, DedupKey) is unique when it is set.
	DedupKey string

	// Status is StatusQueued when empty. A message that cannot be sent (a partner
	// without a phone number) is recorded as StatusFailed with its reason.
	Status       string
	ErrorMessage string
}

// BizOpaquePrefix marks the biz_opaque_callback_data the sidecar sends: the row id
// after it. Meta echoes it in status webhooks, which is how a send whose answer was
// lost in a crash is recognised instead of being sent twice.
const BizOpaquePrefix = "sidecar:"

// CallbackData is the biz_opaque_callback_data of row id.
func CallbackData(id int) string { return BizOpaquePrefix + strconv.Itoa(id) }

// RowFromCallbackData returns the row id of a biz_opaque_callback_data, 0 if it is
// not the sidecar's.
func RowFromCallbackData(data string) int {
	rest, ok := strings.CutPrefix(data, BizOpaquePrefix)
	if !ok {
		return 0
	}
	id, err := strconv.Atoi(rest)
	if err != nil || id <= 0 {
		return 0
	}
	return id
}

// Enqueue inserts msgs in one statement and returns the ids of the rows inserted;
// a message whose (res_model, res_id, kind, dedup_key) already exists is skipped, so
// the same event processed twice queues one message.
func Enqueue(ctx context.Context, q DBTX, msgs ...Message) ([]int, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	n := len(msgs)
	cols := struct {
		config, conversation, contact, attachment, resID                      []*int
		phone, contactName, typ, content, caption, buttons, mediaID, mediaURL []*string
		mime, replyTo, tplName, tplLang, tplComponents, resModel, kind, dedup []*string
		params, status, errMsg                                                []*string
	}{}
	for _, m := range msgs {
		cols.config = append(cols.config, nullInt(m.ConfigID))
		cols.conversation = append(cols.conversation, nullInt(m.ConversationID))
		cols.contact = append(cols.contact, nullInt(m.ContactID))
		cols.attachment = append(cols.attachment, nullInt(m.AttachmentID))
		cols.resID = append(cols.resID, nullInt(m.ResID))
		cols.phone = append(cols.phone, nullStr(m.Phone))
		cols.contactName = append(cols.contactName, nullStr(m.ContactName))
		typ := m.Type
		if typ == "" {
			typ = "text"
		}
		cols.typ = append(cols.typ, &typ)
		cols.content = append(cols.content, nullStr(m.Content))
		cols.caption = append(cols.caption, nullStr(m.Caption))
		cols.buttons = append(cols.buttons, jsonOrNull(m.Buttons, len(m.Buttons) > 0))
		cols.mediaID = append(cols.mediaID, nullStr(m.MediaID))
		cols.mediaURL = append(cols.mediaURL, nullStr(m.MediaURL))
		cols.mime = append(cols.mime, nullStr(m.MimeType))
		cols.replyTo = append(cols.replyTo, nullStr(m.ReplyTo))
		cols.tplName = append(cols.tplName, nullStr(m.TemplateName))
		cols.tplLang = append(cols.tplLang, nullStr(m.TemplateLanguage))
		cols.tplComponents = append(cols.tplComponents, nullStr(m.TemplateComponents))
		cols.resModel = append(cols.resModel, nullStr(m.ResModel))
		cols.kind = append(cols.kind, nullStr(m.Kind))
		cols.dedup = append(cols.dedup, nullStr(m.DedupKey))
		cols.params = append(cols.params, jsonOrNull(m.Params, len(m.Params) > 0))
		status := m.Status
		if status == "" {
			status = StatusQueued
		}
		cols.status = append(cols.status, &status)
		cols.errMsg = append(cols.errMsg, nullStr(m.ErrorMessage))
	}
	rows, err := q.Query(ctx, enqueueSQL,
		cols.config, cols.conversation, cols.contact, cols.phone, cols.contactName, cols.typ, cols.content,
		cols.caption, cols.buttons, cols.mediaID, cols.mediaURL, cols.mime, cols.attachment, cols.replyTo,
		cols.tplName, cols.tplLang, cols.tplComponents, cols.resModel, cols.resID, cols.kind, cols.dedup,
		cols.params, cols.status, cols.errMsg)
	if err != nil {
		return nil, fmt.Errorf("queue %d messages: %w", n, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return nil, fmt.Errorf("queue %d messages: %w", n, err)
	}
	return ids, nil
}

const enqueueSQL = `
INSERT INTO whatsapp_message (direction, config_id, conversation_id, contact_id, phone, contact_name, message_type,
    content, caption, buttons, media_id, media_url, media_mime_type, attachment_id, reply_to_wa_message_id,
    template_name, template_language, template_components, res_model, res_id, kind, dedup_key, params,
    status, error_message, failed_at, attempts, create_uid, create_date, write_uid, write_date)
SELECT 'out', m.config_id, m.conversation_id, m.contact_id, m.phone, m.contact_name, m.message_type,
    m.content, m.caption, m.buttons, m.media_id, m.media_url, m.mime, m.attachment_id, m.reply_to,
    m.tpl_name, m.tpl_lang, m.tpl_components, m.res_model, m.res_id, m.kind, m.dedup_key, m.params,
    m.status, m.error_message, CASE WHEN m.status = 'failed' THEN now() AT TIME ZONE 'utc' END, 0,
    1, now() AT TIME ZONE 'utc', 1, now() AT TIME ZONE 'utc'
FROM unnest($1::int[], $2::int[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
    $10::text[], $11::text[], $12::text[], $13::int[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[],
    $19::int[], $20::text[], $21::text[], $22::text[], $23::text[], $24::text[])
    AS m(config_id, conversation_id, contact_id, phone, contact_name, message_type, content, caption, buttons,
         media_id, media_url, mime, attachment_id, reply_to, tpl_name, tpl_lang, tpl_components, res_model,
         res_id, kind, dedup_key, params, status, error_message)
ON CONFLICT (res_model, res_id, kind, dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING
RETURNING id`

func nullInt(v int) *int {
	if v == 0 {
		return nil
	}
	return &v
}

func nullStr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func jsonOrNull(v any, present bool) *string {
	if !present {
		return nil
	}
	b, _ := json.Marshal(v)
	s := string(b)
	return &s
}

// statusRank orders statuses; a status update applies only if it ranks higher.
// failed ranks above sent but below delivered: a message Meta delivered or the
// customer read was not a failure, whatever arrives late.
const statusRank = `CASE %s WHEN 'queued' THEN 0 WHEN 'sending' THEN 1 WHEN 'unknown' THEN 1 WHEN 'sent' THEN 2
    WHEN 'failed' THEN 3 WHEN 'delivered' THEN 4 WHEN 'read' THEN 5 ELSE -1 END`

func rank(expr string) string { return fmt.Sprintf(statusRank, expr) }

// now is when the database thinks it is, in Odoo's convention (UTC, no time zone).
const now = `(now() AT TIME ZONE 'utc')`

// utc converts t for a timestamp without time zone column.
func utc(t time.Time) time.Time { return t.UTC() }
