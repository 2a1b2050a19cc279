package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/inbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/owner"
)

// UnknownPolicy is what becomes of a send of unknown fate that Meta's status
// webhooks never settle.
type UnknownPolicy struct {
	// ResendAfter is how long such a row waits, from the moment it became
	// unknown, before it is sent again (UNKNOWN_RESEND_AFTER). Zero holds it for a
	// person: it stays 'unknown' until someone sets it back to 'queued'.
	ResendAfter time.Duration
}

// resendAt is the SQL value of next_attempt_at for a row becoming unknown now.
func (p UnknownPolicy) resendAt() *float64 {
	if p.ResendAfter <= 0 {
		return nil
	}
	secs := p.ResendAfter.Seconds()
	return &secs
}

// reason is what the row says while it waits, after what happened.
func (p UnknownPolicy) reason(what string) string {
	if p.ResendAfter <= 0 {
		return what + ": Meta may have received it. Waiting for Meta's status webhook; with no news it is left for a person " +
			"(set the status back to queued to send it again; UNKNOWN_RESEND_AFTER=never)"
	}
	return fmt.Sprintf("%s: Meta may have received it. Waiting for Meta's status webhook; with no news it is sent again after %s "+
		"(UNKNOWN_RESEND_AFTER)", what, p.ResendAfter)
}

// Claimed is a row its owner is sending.
type Claimed struct {
	Message
	ID       int
	Owner    int32 // the owner that claimed it
	Attempts int   // including this one
	// Resend is true when an earlier attempt's fate is unknown: Meta may have
	// received it and its status webhook never came.
	Resend bool
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

// laneOf is the SQL lane of a row aliased t. A lane groups a customer's rows: they
// are sent one at a time, in queue order. The number as written, else the partner,
// else the row alone.
func laneOf(t string) string {
	return `COALESCE('p:' || ` + t + `.phone, 'c:' || ` + t + `.contact_id::text, 'r:' || ` + t + `.id::text)`
}

// claimSQL takes up to $1 due rows for owner $3, one per customer whose previous
// message is not being sent (by anyone alive or not: a dead owner's rows are
// rescued first), looking at the first $2 due rows. Due: queued and its next
// attempt has come, or unknown, its resend time has come (never when held), and
// no delivery received before that time is still unapplied.
var claimSQL = `
WITH busy AS (
    SELECT DISTINCT ` + laneOf("s") + ` AS lane FROM whatsapp_message s WHERE s.status = 'sending' AND s.direction = 'out'
), scan AS (
    SELECT w.id, ` + laneOf("w") + ` AS lane, w.next_attempt_at
    FROM whatsapp_message w
    WHERE w.direction = 'out' AND (
        (w.status = 'queued' AND (w.next_attempt_at IS NULL OR w.next_attempt_at <= ` + now + `))
        OR (w.status = 'unknown' AND w.next_attempt_at <= ` + now + ` AND NOT ` + inbox.UnappliedBefore("(w.next_attempt_at AT TIME ZONE 'utc')") + `))
    ORDER BY w.next_attempt_at NULLS FIRST, w.id
    LIMIT $2
), first AS (
    SELECT id FROM (
        SELECT id, lane, row_number() OVER (PARTITION BY lane ORDER BY next_attempt_at NULLS FIRST, id) AS n FROM scan
    ) ranked
    WHERE n = 1 AND lane NOT IN (SELECT lane FROM busy)
), due AS (
    SELECT w.id, w.status AS was,
        COALESCE(p.name, '') AS partner_name,
        COALESCE(NULLIF(trim(p.mobile), ''), NULLIF(trim(p.phone), ''), '') AS partner_number,
        COALESCE(pc.code, '') AS partner_country, COALESCE(p.x_whatsapp_opt_out, false) AS partner_opt_out
    FROM whatsapp_message w
    JOIN first ON first.id = w.id
    LEFT JOIN res_partner p ON p.id = w.contact_id
    LEFT JOIN res_country pc ON pc.id = p.country_id
    WHERE w.status IN ('queued', 'unknown')
    ORDER BY w.next_attempt_at NULLS FIRST, w.id
    LIMIT $1
    FOR UPDATE OF w SKIP LOCKED
)
UPDATE whatsapp_message m SET
    status = 'sending', claimed_by = $3, dispatched_at = NULL, retry_reason = NULL,
    attempts = COALESCE(m.attempts, 0) + 1, next_attempt_at = NULL, write_date = ` + now + `
FROM due
WHERE m.id = due.id
RETURNING m.id, m.config_id, m.conversation_id, m.contact_id, m.phone, m.contact_name, m.message_type, m.content,
    m.caption, m.buttons, m.media_id, m.media_url, m.media_mime_type, m.attachment_id, m.reply_to_wa_message_id,
    m.template_name, m.template_language, m.template_components, m.res_model, m.res_id, m.kind, m.params,
    m.attempts, due.was = 'unknown', due.partner_name, due.partner_number, due.partner_country, due.partner_opt_out`

// Claim takes up to limit due rows for o, on o's own connection. scan bounds how
// many due rows are looked at to find them (a few times limit: several may belong
// to the same customer).
func Claim(ctx context.Context, o *owner.Owner, limit, scan int) ([]Claimed, error) {
	var out []Claimed
	err := o.Do(ctx, func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, claimSQL, limit, scan, o.ID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			c := Claimed{Owner: o.ID}
			var config, conversation, contact, attachment, resID *int
			var phone, contactName, typ, content, caption, buttons, mediaID, mediaURL, mime, replyTo *string
			var tplName, tplLang, tplComps, resModel, kind, params *string
			if err := rows.Scan(&c.ID, &config, &conversation, &contact, &phone, &contactName, &typ, &content,
				&caption, &buttons, &mediaID, &mediaURL, &mime, &attachment, &replyTo, &tplName, &tplLang, &tplComps,
				&resModel, &resID, &kind, &params, &c.Attempts, &c.Resend,
				&c.Partner.Name, &c.Partner.Number, &c.Partner.Country, &c.Partner.OptOut); err != nil {
				return err
			}
			c.ConfigID, c.ConversationID, c.ContactID, c.AttachmentID, c.ResID = intOf(config), intOf(conversation), intOf(contact), intOf(attachment), intOf(resID)
			c.Phone, c.ContactName, c.Type, c.Content, c.Caption = deref(phone), deref(contactName), deref(typ), deref(content), deref(caption)
			c.MediaID, c.MediaURL, c.MimeType, c.ReplyTo = deref(mediaID), deref(mediaURL), deref(mime), deref(replyTo)
			c.TemplateName, c.TemplateLanguage, c.TemplateComponents = deref(tplName), deref(tplLang), deref(tplComps)
			c.ResModel, c.Kind = deref(resModel), deref(kind)
			if buttons != nil {
				// A row written by hand may hold junk: the sender reports it as the
				// message's error rather than failing the claim.
				_ = json.Unmarshal([]byte(*buttons), &c.Buttons)
			}
			if params != nil {
				_ = json.Unmarshal([]byte(*params), &c.Params)
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("claim messages: %w", err)
	}
	return out, nil
}

// Dispatch records, on o's connection, that the requests of rows ids are about to
// leave for Meta, and returns the ids still o's (the others were taken over: o's
// connection was lost and their claims voided). Only those may be sent.
func Dispatch(ctx context.Context, o *owner.Owner, ids []int) ([]int, error) {
	var mine []int
	err := o.Do(ctx, func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, `UPDATE whatsapp_message SET dispatched_at = `+now+`
			WHERE id = ANY($1) AND claimed_by = $2 AND status = 'sending' RETURNING id`, ids, o.ID)
		if err != nil {
			return err
		}
		mine, err = pgx.CollectRows(rows, pgx.RowTo[int])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("record dispatch of %d messages: %w", len(ids), err)
	}
	return mine, nil
}

// Release gives back rows owner claimed and knows it never sent (it stopped before
// their turn, or recording their dispatch failed): queued again, due at once for
// another sender. Only the live owner can know that; a rescue cannot.
func Release(ctx context.Context, q DBTX, owner int32, ids []int, reason string) error {
	_, err := q.Exec(ctx, `UPDATE whatsapp_message SET status = 'queued', claimed_by = NULL, dispatched_at = NULL,
		retry_reason = $3, attempts = GREATEST(COALESCE(attempts, 1) - 1, 0), write_date = `+now+`
		WHERE id = ANY($1) AND claimed_by = $2 AND status = 'sending'`, ids, owner, reason)
	if err != nil {
		return fmt.Errorf("release %d messages: %w", len(ids), err)
	}
	return nil
}

// Leave is what an owner that stops does with the rows it still holds, at once
// rather than waiting for a rescue: those it never dispatched are queued again,
// those it dispatched (their answer cut short) wait as unknown under policy.
func Leave(ctx context.Context, q DBTX, owner int32, policy UnknownPolicy) (Rescued, error) {
	rows, err := q.Query(ctx, `
		UPDATE whatsapp_message m SET
		    status = CASE WHEN m.dispatched_at IS NULL THEN 'queued' ELSE 'unknown' END,
		    next_attempt_at = CASE WHEN m.dispatched_at IS NULL THEN NULL ELSE `+now+` + make_interval(secs => $2) END,
		    error_message = CASE WHEN m.dispatched_at IS NULL THEN m.error_message ELSE $3 END,
		    retry_reason = CASE WHEN m.dispatched_at IS NULL THEN 'shutdown' ELSE m.retry_reason END,
		    attempts = CASE WHEN m.dispatched_at IS NULL THEN GREATEST(COALESCE(m.attempts, 1) - 1, 0) ELSE m.attempts END,
		    claimed_by = NULL, write_date = `+now+`
		WHERE m.status = 'sending' AND m.claimed_by = $1
		RETURNING m.status`, owner, policy.resendAt(),
		policy.reason("the sidecar stopped while this send was under way"))
	if err != nil {
		return Rescued{}, fmt.Errorf("give back the messages of a stopping sender: %w", err)
	}
	return countRescued(rows)
}

func countRescued(rows pgx.Rows) (Rescued, error) {
	statuses, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return Rescued{}, err
	}
	var r Rescued
	for _, s := range statuses {
		if s == StatusQueued {
			r.Requeued++
		} else {
			r.Unknown++
		}
	}
	return r, nil
}

// Rescued counts what Rescue did.
type Rescued struct {
	Requeued int // never dispatched: queued again
	Unknown  int // dispatched: their fate is unknown
}

var rescueSQL = `
WITH void AS (
    SELECT id FROM whatsapp_message
    WHERE status = 'sending' AND direction = 'out'
      AND (claimed_by IS NULL OR claimed_by NOT IN ` + owner.Live + `)
    FOR UPDATE SKIP LOCKED
)
UPDATE whatsapp_message m SET
    status = CASE WHEN m.claimed_by IS NOT NULL AND m.dispatched_at IS NULL THEN 'queued' ELSE 'unknown' END,
    next_attempt_at = CASE WHEN m.claimed_by IS NOT NULL AND m.dispatched_at IS NULL THEN NULL
        ELSE ` + now + ` + make_interval(secs => $1) END,
    error_message = CASE WHEN m.claimed_by IS NOT NULL AND m.dispatched_at IS NULL THEN m.error_message ELSE $2 END,
    attempts = CASE WHEN m.claimed_by IS NOT NULL AND m.dispatched_at IS NULL
        THEN GREATEST(COALESCE(m.attempts, 1) - 1, 0) ELSE m.attempts END,
    claimed_by = NULL, write_date = ` + now + `
FROM void
WHERE m.id = void.id
RETURNING m.status`

// Rescue voids the claims of owners that are gone: a row they never dispatched is
// queued again at once; a dispatched one becomes 'unknown' under policy (rule 2).
// A 'sending' row with no owner at all (left by a version without owners) counts
// as dispatched.
func Rescue(ctx context.Context, q DBTX, policy UnknownPolicy) (Rescued, error) {
	rows, err := q.Query(ctx, rescueSQL, policy.resendAt(),
		policy.reason("Meta's answer to this send was lost (the sidecar sending it stopped or lost its database connection)"))
	if err != nil {
		return Rescued{}, fmt.Errorf("rescue messages of stopped senders: %w", err)
	}
	r, err := countRescued(rows)
	if err != nil {
		return Rescued{}, fmt.Errorf("rescue messages of stopped senders: %w", err)
	}
	return r, nil
}

func intOf(v *int) int {
	if v == nil {
		return 0
	}
	return *v
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
