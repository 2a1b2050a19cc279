package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify"
)

// writeBack is the SQL that marks a row's Odoo write-back pending when it becomes
// sent: a chatter note on the order or invoice it is about, and its x_whatsapp_*
// flags. old is the status before.
func writeBack(col, old string) string {
	return `CASE WHEN ` + rank(old) + ` < 2 AND m.res_model IN ('sale.order', 'account.move') AND m.res_id IS NOT NULL
        THEN true ELSE m.` + col + ` END`
}

// Sent is the outcome of an accepted send.
type Sent struct {
	RowID       int
	WaMessageID string
	Phone       string // the E.164 number it went to
	Request     []byte // the request body, kept as raw_payload
	Response    []byte // Meta's answer, kept as raw_response
	At          time.Time
	// Rendered fields the row may not have had (an intent row the sender composed):
	// Discuss and Odoo's form show them.
	Content string
	Type    string
	Buttons []notify.Button
}

// MarkSent records accepted sends in one statement. A status webhook may have
// arrived first and moved the row further: the status never goes back. A row that
// became unknown meanwhile (its owner lost its connection) is sent: this is the
// answer it was waiting for.
func MarkSent(ctx context.Context, q DBTX, sent []Sent) error {
	if len(sent) == 0 {
		return nil
	}
	n := len(sent)
	ids := make([]int, n)
	wamids, phones, reqs, resps, contents, types := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	buttons := make([]*string, n)
	ats := make([]time.Time, n)
	for i, s := range sent {
		ids[i], wamids[i], phones[i], reqs[i], resps[i], ats[i] = s.RowID, s.WaMessageID, s.Phone, string(s.Request), string(s.Response), s.At.UTC()
		contents[i], types[i] = s.Content, s.Type
		buttons[i] = jsonOrNull(s.Buttons, len(s.Buttons) > 0)
	}
	_, err := q.Exec(ctx, `
		UPDATE whatsapp_message m SET
		    status = CASE WHEN `+rank("m.status")+` < 2 THEN 'sent' ELSE m.status END,
		    note_pending = `+writeBack("note_pending", "m.status")+`,
		    flags_pending = `+writeBack("flags_pending", "m.status")+`,
		    wa_status = COALESCE(m.wa_status, 'sent'),
		    wa_message_id = COALESCE(m.wa_message_id, NULLIF(s.wamid, '')),
		    phone = COALESCE(NULLIF(s.phone, ''), m.phone),
		    content = COALESCE(NULLIF(s.content, ''), m.content),
		    message_type = COALESCE(NULLIF(s.type, ''), m.message_type),
		    buttons = COALESCE(m.buttons, s.buttons),
		    raw_payload = s.req, raw_response = s.resp,
		    sent_at = COALESCE(m.sent_at, s.at), next_attempt_at = NULL, claimed_by = NULL, retry_reason = NULL,
		    error_code = NULL, error_message = NULL,
		    write_date = `+now+`
		FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamp[], $7::text[], $8::text[], $9::text[])
		    AS s(id, wamid, phone, req, resp, at, content, type, buttons)
		WHERE m.id = s.id AND m.status <> 'failed'`,
		ids, wamids, phones, reqs, resps, ats, contents, types, buttons)
	if err != nil {
		return fmt.Errorf("record %d sent messages: %w", n, err)
	}
	return nil
}

// stillMine is the condition under which a sender's verdict on a row it claimed
// applies: the row is still its own, or nobody's and of unknown fate (its claim was
// voided while the request was out: the verdict is the news it waits for). It is
// never applied over another sender's claim.
const stillMine = `status IN ('sending', 'unknown') AND (claimed_by = $2 OR (claimed_by IS NULL AND status = 'unknown'))`

// MarkFailed records a final failure of a row owner claimed, with Meta's code (0
// when the failure is ours: no phone number, no PDF) and a message for people.
func MarkFailed(ctx context.Context, q DBTX, owner int32, rowID, code int, message string, request, response []byte) error {
	_, err := q.Exec(ctx, `
		UPDATE whatsapp_message SET status = 'failed', error_code = $3, error_message = $4,
		    raw_payload = COALESCE($5, raw_payload), raw_response = COALESCE($6, raw_response),
		    failed_at = `+now+`, next_attempt_at = NULL, claimed_by = NULL, write_date = `+now+`
		WHERE id = $1 AND `+stillMine,
		rowID, owner, nullInt(code), message, nullBytes(request), nullBytes(response))
	if err != nil {
		return fmt.Errorf("record failure of message %d: %w", rowID, err)
	}
	return nil
}

// MarkRetry puts a row owner claimed back in the queue until at, keeping the last
// error so Odoo users see why it is late; reason is a bounded word (retry_reason).
func MarkRetry(ctx context.Context, q DBTX, owner int32, rowID int, at time.Time, code int, message, reason string) error {
	_, err := q.Exec(ctx, `
		UPDATE whatsapp_message SET status = 'queued', next_attempt_at = $3, error_code = $4, error_message = $5,
		    retry_reason = $6, claimed_by = NULL, write_date = `+now+`
		WHERE id = $1 AND `+stillMine, rowID, owner, at.UTC(), nullInt(code), message, reason)
	if err != nil {
		return fmt.Errorf("requeue message %d: %w", rowID, err)
	}
	return nil
}

// MarkUnknown records that the request of a row owner dispatched may have reached
// Meta without its answer reaching us (a timeout, a connection cut after the
// request was written, a stop that cancelled it): it waits under policy (rule 3).
func MarkUnknown(ctx context.Context, q DBTX, owner int32, rowID int, policy UnknownPolicy, what string) error {
	_, err := q.Exec(ctx, `
		UPDATE whatsapp_message SET status = 'unknown', claimed_by = NULL,
		    next_attempt_at = `+now+` + make_interval(secs => $3), error_message = $4, write_date = `+now+`
		WHERE id = $1 AND status = 'sending' AND claimed_by = $2`, rowID, owner, policy.resendAt(), policy.reason(what))
	if err != nil {
		return fmt.Errorf("record unknown fate of message %d: %w", rowID, err)
	}
	return nil
}

// WakeWaiting makes the rows waiting for a configuration fix (reasons such as auth,
// account, no_credentials) due at once: the configuration changed.
func WakeWaiting(ctx context.Context, q DBTX, reasons ...string) (int, error) {
	tag, err := q.Exec(ctx, `UPDATE whatsapp_message SET next_attempt_at = NULL, write_date = `+now+`
		WHERE status = 'queued' AND direction = 'out' AND retry_reason = ANY($1) AND next_attempt_at IS NOT NULL`, reasons)
	if err != nil {
		return 0, fmt.Errorf("wake messages waiting for the configuration: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// NextDue is how long until the earliest row waiting for a retry is due; ok is
// false when none waits.
func NextDue(ctx context.Context, q DBTX) (d time.Duration, ok bool, err error) {
	var wait *float64
	err = q.QueryRow(ctx, `
		SELECT EXTRACT(EPOCH FROM min(next_attempt_at) - `+now+`)::float8
		FROM whatsapp_message WHERE status IN ('queued', 'unknown') AND direction = 'out' AND next_attempt_at IS NOT NULL`).Scan(&wait)
	if err != nil {
		return 0, false, fmt.Errorf("find the next message due: %w", err)
	}
	if wait == nil {
		return 0, false, nil
	}
	return time.Duration(*wait * float64(time.Second)), true, nil
}

// SetTemplate turns a row into a template message, for the sender to send again at
// once after Meta refused free-form text outside the 24-hour window.
func SetTemplate(ctx context.Context, q DBTX, rowID int, name, lang string) error {
	_, err := q.Exec(ctx, `
		UPDATE whatsapp_message SET message_type = 'template', template_name = $2, template_language = $3,
		    write_date = `+now+`
		WHERE id = $1`, rowID, name, lang)
	if err != nil {
		return fmt.Errorf("switch message %d to template %s: %w", rowID, name, err)
	}
	return nil
}

// SetMedia remembers the media id a row's file was uploaded as, so a retry does not
// upload it again (Meta keeps uploads 30 days).
func SetMedia(ctx context.Context, q DBTX, rowID int, mediaID, mimeType string) error {
	if _, err := q.Exec(ctx, `UPDATE whatsapp_message SET media_id = $2, media_mime_type = $3 WHERE id = $1`,
		rowID, mediaID, mimeType); err != nil {
		return fmt.Errorf("remember media %s of message %d: %w", mediaID, rowID, err)
	}
	return nil
}

// SetAttachment gives a row the file it sends (an ir_attachment) and its name.
func SetAttachment(ctx context.Context, q DBTX, rowID, attachmentID int, mimeType, filename string) error {
	_, err := q.Exec(ctx, `
		UPDATE whatsapp_message SET attachment_id = $2, media_mime_type = $3,
		    params = jsonb_set(COALESCE(NULLIF(params, '')::jsonb, '{}'), '{filename}', to_jsonb($4::text))::text,
		    write_date = `+now+`
		WHERE id = $1`, rowID, attachmentID, mimeType, filename)
	if err != nil {
		return fmt.Errorf("attach file to message %d: %w", rowID, err)
	}
	return nil
}

// LinkAttachment gives a received message the attachment its media was stored as.
func LinkAttachment(ctx context.Context, q DBTX, rowID, attachmentID int) error {
	if _, err := q.Exec(ctx, `UPDATE whatsapp_message SET attachment_id = $2 WHERE id = $1`, rowID, attachmentID); err != nil {
		return fmt.Errorf("link attachment %d to message %d: %w", attachmentID, rowID, err)
	}
	return nil
}

// RetryAsTemplate queues a copy of a failed notification as the approved template
// mapped to its kind (whatsapp_template.notification_kind), when there is one: Meta
// answered 131047 (more than 24 h since the customer last wrote) after accepting
// the free-form message. It returns the new row's id, 0 when no template is mapped
// or the copy already exists.
func RetryAsTemplate(ctx context.Context, q DBTX, failedRowID int) (int, error) {
	var id int
	err := q.QueryRow(ctx, `
		INSERT INTO whatsapp_message (direction, config_id, conversation_id, contact_id, phone, contact_name,
		    message_type, content, caption, attachment_id, template_name, template_language, res_model, res_id,
		    kind, dedup_key, params, status, attempts, create_uid, create_date, write_uid, write_date)
		SELECT 'out', m.config_id, m.conversation_id, m.contact_id, m.phone, m.contact_name,
		    'template', m.content, m.caption, m.attachment_id, t.wa_name, COALESCE(t.language_code, 'fr'), m.res_model, m.res_id,
		    m.kind, COALESCE(m.dedup_key, m.id::text) || ':template', m.params, 'queued', 0,
		    1, `+now+`, 1, `+now+`
		FROM whatsapp_message m
		JOIN LATERAL (
		    SELECT wa_name, language_code FROM whatsapp_template
		    WHERE notification_kind = m.kind AND status = 'APPROVED'
		      AND (config_id = m.config_id OR config_id IS NULL)
		    ORDER BY config_id NULLS LAST, id LIMIT 1) t ON true
		WHERE m.id = $1 AND m.message_type <> 'template'
		ON CONFLICT (res_model, res_id, kind, dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING
		RETURNING id`, failedRowID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("queue message %d again as a template: %w", failedRowID, err)
	}
	return id, nil
}

func nullBytes(b []byte) *string {
	if len(b) == 0 {
		return nil
	}
	s := string(b)
	return &s
}
