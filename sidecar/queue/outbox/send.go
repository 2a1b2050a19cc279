package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify"
)

// Pending is a claimed row, with what the sender needs to send it.
type Pending struct {
	ID             int
	ConfigID       int
	ConversationID int
	ContactID      int
	Phone          string
	ContactName    string
	Type           string
	Content        string
	Caption        string
	Buttons        []notify.Button
	MediaID        string
	MediaURL       string
	MimeType       string
	AttachmentID   int
	ReplyTo        string
	TemplateName   string
	TemplateLang   string
	TemplateComps  string
	ResModel       string
	ResID          int
	Kind           string
	Params         map[string]string
	Attempts       int // including this one
	// Recovered is true when a previous attempt may have reached Meta: the row
	// was found 'sending' twice past its lease, with no status webhook about it.
	Recovered bool
	// Partner is the contact_id partner as the claim read it (zero when none).
	Partner Recipient
}

// Recipient is what sending needs of a row's partner, read with the claim so the
// sender asks the database nothing per message.
type Recipient struct {
	Name    string
	Number  string // mobile, else phone, as Odoo stores it
	Country string // ISO code of the partner's country
	OptOut  bool
}

// Claim takes up to limit rows that are due: queued rows whose next attempt has
// come, and 'sending' rows whose lease expired twice. Claimed rows become 'sending'
// with a lease: until it ends, nobody else sends them, and status webhooks can still
// settle them. One statement, FOR UPDATE SKIP LOCKED: replicas never claim the same
// row.
//
// A 'sending' row whose lease expired was claimed by a sender that died, or whose
// answer was lost: Meta may have accepted it. It is not sent at once: it gets a
// second lease, starting now, so the status webhooks Meta retries while a crashed
// sidecar was down (biz_opaque_callback_data = the row id) can settle it first;
// wa_status 'unknown' marks that wait. Only a row still unsettled after it is sent
// again.
func Claim(ctx context.Context, q DBTX, limit int, lease time.Duration) ([]Pending, error) {
	rows, err := q.Query(ctx, claimSQL, limit, lease.Seconds())
	if err != nil {
		return nil, fmt.Errorf("claim messages: %w", err)
	}
	defer rows.Close()
	var out []Pending
	for rows.Next() {
		var p Pending
		var config, conversation, contact, attachment, resID *int
		var phone, contactName, typ, content, caption, buttons, mediaID, mediaURL, mime, replyTo *string
		var tplName, tplLang, tplComps, resModel, kind, params *string
		if err := rows.Scan(&p.ID, &config, &conversation, &contact, &phone, &contactName, &typ, &content,
			&caption, &buttons, &mediaID, &mediaURL, &mime, &attachment, &replyTo, &tplName, &tplLang, &tplComps,
			&resModel, &resID, &kind, &params, &p.Attempts, &p.Recovered,
			&p.Partner.Name, &p.Partner.Number, &p.Partner.Country, &p.Partner.OptOut); err != nil {
			return nil, fmt.Errorf("claim messages: %w", err)
		}
		p.ConfigID, p.ConversationID, p.ContactID, p.AttachmentID, p.ResID = intOf(config), intOf(conversation), intOf(contact), intOf(attachment), intOf(resID)
		p.Phone, p.ContactName, p.Type, p.Content, p.Caption = deref(phone), deref(contactName), deref(typ), deref(content), deref(caption)
		p.MediaID, p.MediaURL, p.MimeType, p.ReplyTo = deref(mediaID), deref(mediaURL), deref(mime), deref(replyTo)
		p.TemplateName, p.TemplateLang, p.TemplateComps = deref(tplName), deref(tplLang), deref(tplComps)
		p.ResModel, p.Kind = deref(resModel), deref(kind)
		if buttons != nil {
			// A row written by hand may hold junk: the sender reports it as the
			// message's error rather than failing the claim.
			_ = json.Unmarshal([]byte(*buttons), &p.Buttons)
		}
		if params != nil {
			_ = json.Unmarshal([]byte(*params), &p.Params)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim messages: %w", err)
	}
	return out, nil
}

func intOf(v *int) int {
	if v == nil {
		return 0
	}
	return *v
}

var claimSQL = `
WITH due AS (
    SELECT w.id, w.status, w.status = 'sending' AND w.wa_status IS DISTINCT FROM 'unknown' AS unsettled,
        COALESCE(p.name, '') AS partner_name,
        COALESCE(NULLIF(trim(p.mobile), ''), NULLIF(trim(p.phone), ''), '') AS partner_number,
        COALESCE(pc.code, '') AS partner_country, COALESCE(p.x_whatsapp_opt_out, false) AS partner_opt_out
    FROM whatsapp_message w
    LEFT JOIN res_partner p ON p.id = w.contact_id
    LEFT JOIN res_country pc ON pc.id = p.country_id
    WHERE w.status IN ('queued', 'sending') AND w.direction = 'out'
      AND (w.next_attempt_at IS NULL OR w.next_attempt_at <= ` + now + `)
    ORDER BY w.next_attempt_at NULLS FIRST, w.id
    LIMIT $1
    FOR UPDATE OF w SKIP LOCKED
), wait AS (
    UPDATE whatsapp_message m SET wa_status = 'unknown', next_attempt_at = ` + now + ` + make_interval(secs => $2)
    FROM due WHERE m.id = due.id AND due.unsettled
)
UPDATE whatsapp_message m SET
    status = 'sending',
    wa_status = NULL,
    attempts = COALESCE(m.attempts, 0) + 1,
    next_attempt_at = ` + now + ` + make_interval(secs => $2),
    write_date = ` + now + `
FROM due
WHERE m.id = due.id AND NOT due.unsettled
RETURNING m.id, m.config_id, m.conversation_id, m.contact_id, m.phone, m.contact_name, m.message_type, m.content,
    m.caption, m.buttons, m.media_id, m.media_url, m.media_mime_type, m.attachment_id, m.reply_to_wa_message_id,
    m.template_name, m.template_language, m.template_components, m.res_model, m.res_id, m.kind, m.params,
    m.attempts, due.status = 'sending', due.partner_name, due.partner_number, due.partner_country, due.partner_opt_out`

// Sent is the outcome of an accepted send.
type Sent struct {
	RowID       int
	WaMessageID string
	Phone       string // the E.164 number it went to
	Request     []byte // the request body, kept as raw_payload
	Response    []byte // Meta's answer, kept as raw_response
	At          time.Time
	// Rendered fields the row may not have had (an intent row the sender composed).
	Content string
	Type    string
}

// MarkSent records accepted sends in one statement. A status webhook may have
// arrived first and moved the row further: the status never goes back.
func MarkSent(ctx context.Context, q DBTX, sent []Sent) error {
	if len(sent) == 0 {
		return nil
	}
	ids := make([]int, len(sent))
	wamids, phones, reqs, resps, contents, types := make([]string, len(sent)), make([]string, len(sent)), make([]string, len(sent)), make([]string, len(sent)), make([]string, len(sent)), make([]string, len(sent))
	ats := make([]time.Time, len(sent))
	for i, s := range sent {
		ids[i], wamids[i], phones[i], reqs[i], resps[i], ats[i] = s.RowID, s.WaMessageID, s.Phone, string(s.Request), string(s.Response), s.At.UTC()
		contents[i], types[i] = s.Content, s.Type
	}
	_, err := q.Exec(ctx, `
		UPDATE whatsapp_message m SET
		    status = CASE WHEN `+rank("m.status")+` < 2 THEN 'sent' ELSE m.status END,
		    wa_status = COALESCE(m.wa_status, 'sent'),
		    wa_message_id = COALESCE(m.wa_message_id, NULLIF(s.wamid, '')),
		    phone = COALESCE(NULLIF(s.phone, ''), m.phone),
		    content = COALESCE(NULLIF(s.content, ''), m.content),
		    message_type = COALESCE(NULLIF(s.type, ''), m.message_type),
		    raw_payload = s.req, raw_response = s.resp,
		    sent_at = COALESCE(m.sent_at, s.at), next_attempt_at = NULL,
		    error_code = NULL, error_message = NULL,
		    write_date = `+now+`
		FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamp[], $7::text[], $8::text[])
		    AS s(id, wamid, phone, req, resp, at, content, type)
		WHERE m.id = s.id AND m.status <> 'failed'`,
		ids, wamids, phones, reqs, resps, ats, contents, types)
	if err != nil {
		return fmt.Errorf("record %d sent messages: %w", len(sent), err)
	}
	return nil
}

// MarkFailed records a final failure with Meta's code (0 when the failure is ours:
// no phone number, no PDF) and a message for people.
func MarkFailed(ctx context.Context, q DBTX, rowID, code int, message string, request, response []byte) error {
	_, err := q.Exec(ctx, `
		UPDATE whatsapp_message SET status = 'failed', error_code = $2, error_message = $3,
		    raw_payload = COALESCE($4, raw_payload), raw_response = COALESCE($5, raw_response),
		    failed_at = `+now+`, next_attempt_at = NULL, write_date = `+now+`
		WHERE id = $1 AND status IN ('queued', 'sending')`,
		rowID, nullInt(code), message, nullBytes(request), nullBytes(response))
	if err != nil {
		return fmt.Errorf("record failure of message %d: %w", rowID, err)
	}
	return nil
}

// MarkRetry puts a row back in the queue until at, keeping the last error so Odoo
// users see why it is late.
func MarkRetry(ctx context.Context, q DBTX, rowID int, at time.Time, code int, message string) error {
	_, err := q.Exec(ctx, `
		UPDATE whatsapp_message SET status = 'queued', next_attempt_at = $2, error_code = $3, error_message = $4,
		    write_date = `+now+`
		WHERE id = $1 AND status = 'sending'`, rowID, at.UTC(), nullInt(code), message)
	if err != nil {
		return fmt.Errorf("requeue message %d: %w", rowID, err)
	}
	return nil
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
