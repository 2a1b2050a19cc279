package discuss

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"html"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Post is a message to write into a channel.
type Post struct {
	Channel  ChannelInfo
	Author   Partner
	BodyHTML string
	At       time.Time
	// Notice makes it one of Odoo's own notices in a channel ("invited ... to the
	// channel"): message_type 'notification', a compact grey line.
	Notice bool
	// Attachments are ir_attachment rows the message shows.
	Attachments []Attachment
	// Status, when set, shows the delivery status under the message (a tracking
	// value: "Sent → Read (WhatsApp)").
	Status *Status
}

// Attachment is an ir_attachment a message shows.
type Attachment struct {
	ID       int
	Name     string
	Mimetype string
	Checksum string
	ResModel string
	ResID    int
}

// Status is a delivery status shown as a tracking value: Old → New (Field).
type Status struct {
	Field string // e.g. "WhatsApp"
	Old   string
	New   string
}

// Posted is a message written by PostMessage.
type Posted struct {
	ID         int
	TrackingID int
}

// NoticeHTML is text as the body of a notice.
func NoticeHTML(text string) string {
	return `<div class="o_mail_notification">` + TextHTML(text) + `</div>`
}

// TextHTML is plain text as Odoo's composer sends it: escaped, in a paragraph,
// line breaks kept.
func TextHTML(text string) string {
	return "<p>" + strings.ReplaceAll(html.EscapeString(text), "\n", "<br>") + "</p>"
}

// PostMessage writes p as mail.channel.message_post writes a comment (or a notice)
// and adds its bus notifications to bus: the mail_message (model mail.channel,
// subtype mt_comment, record_name the channel's name), its attachments, its status,
// every member pinned with its last interest now (a 'group' channel moves up in the
// operators' list), then mail.channel/last_interest_dt_changed to each member and
// mail.channel/new_message with the message as message_format shapes it. Unlike an
// RPC post, no member's seen message moves: the message is unread for every
// operator.
func PostMessage(ctx context.Context, tx pgx.Tx, refs Refs, bus *Bus, p Post) (Posted, error) {
	at := p.At
	if at.IsZero() {
		at = time.Now()
	}
	msgType := "comment"
	if p.Notice {
		msgType = "notification"
	}
	token := make([]byte, 12)
	if _, err := rand.Read(token); err != nil {
		return Posted{}, fmt.Errorf("message id: %w", err)
	}
	messageID := fmt.Sprintf("<%s-openerp-%d-mail.channel@whatsapp-sidecar>", hex.EncodeToString(token), p.Channel.ID)
	var posted Posted
	err := tx.QueryRow(ctx, `
		INSERT INTO mail_message (model, res_id, record_name, body, message_type, subtype_id, author_id, date,
		    email_add_signature, message_id, create_uid, create_date, write_uid, write_date)
		VALUES ('mail.channel', $1, $2, $3, $4, $5, $6, $7, true, $8, 1, $9, 1, $9)
		RETURNING id`,
		p.Channel.ID, p.Channel.Name, p.BodyHTML, msgType, refs.CommentSubtype, p.Author.ID, seconds(at), messageID, at.UTC()).
		Scan(&posted.ID)
	if err != nil {
		return Posted{}, fmt.Errorf("post in channel %d: %w", p.Channel.ID, err)
	}
	if len(p.Attachments) > 0 {
		ids := make([]int, len(p.Attachments))
		for i, a := range p.Attachments {
			ids[i] = a.ID
		}
		if _, err := tx.Exec(ctx, `INSERT INTO message_attachment_rel (message_id, attachment_id)
			SELECT $1, a FROM unnest($2::int[]) AS a ON CONFLICT DO NOTHING`, posted.ID, ids); err != nil {
			return Posted{}, fmt.Errorf("attach %d files to message %d: %w", len(ids), posted.ID, err)
		}
	}
	var tracking []any
	if p.Status != nil && refs.StatusField != 0 {
		if posted.TrackingID, err = insertTracking(ctx, tx, refs, posted.ID, *p.Status, at); err != nil {
			return Posted{}, err
		}
		tracking = []any{trackingFormat(posted.TrackingID, *p.Status)}
	}
	if _, err := tx.Exec(ctx, `UPDATE mail_channel_member SET is_pinned = true, last_interest_dt = $2, write_uid = 1, write_date = $3
		WHERE channel_id = $1`, p.Channel.ID, seconds(at), at.UTC()); err != nil {
		return Posted{}, fmt.Errorf("pin channel %d for its members: %w", p.Channel.ID, err)
	}
	for _, m := range p.Channel.Members {
		bus.Send(PartnerChannel(m.PartnerID), "mail.channel/last_interest_dt_changed", map[string]any{
			"id": p.Channel.ID, "isServerPinned": true, "last_interest_dt": odooTime(at)})
	}
	// Members who joined in this transaction do not listen to the channel yet:
	// told through their partner channel, their web client fetches, pins and
	// subscribes to it on this message.
	payload := map[string]any{"id": p.Channel.ID, "message": messageFormat(refs, posted.ID, p, msgType, at, tracking)}
	bus.Send(ChannelOf(p.Channel.ID), "mail.channel/new_message", payload)
	for _, pid := range bus.joined[p.Channel.ID] {
		bus.Send(PartnerChannel(pid), "mail.channel/new_message", payload)
	}
	return posted, nil
}

// messageFormat is the message as mail.message.message_format returns it for a
// channel message (the keys Odoo 16 sends; recorded in discuss_trace.sql).
func messageFormat(refs Refs, id int, p Post, msgType string, at time.Time, tracking []any) map[string]any {
	attachments := make([]any, len(p.Attachments))
	for i, a := range p.Attachments {
		attachments[i] = map[string]any{
			"checksum": a.Checksum, "id": a.ID, "filename": a.Name, "name": a.Name, "mimetype": a.Mimetype,
			"originThread": []any{[]any{"insert", map[string]any{"id": a.ResID, "model": a.ResModel}}},
		}
	}
	if tracking == nil {
		tracking = []any{}
	}
	return map[string]any{
		"id": id, "body": p.BodyHTML, "date": odooTime(at), "email_from": false, "message_type": msgType,
		"subtype_id": []any{refs.CommentSubtype, refs.SubtypeName}, "subject": false,
		"model": "mail.channel", "res_id": p.Channel.ID, "record_name": p.Channel.Name, "starred_partner_ids": []any{},
		"author": map[string]any{"id": p.Author.ID, "name": p.Author.Name}, "guestAuthor": []any{[]any{"clear"}},
		"notifications": []any{}, "attachment_ids": attachments, "trackingValues": tracking, "linkPreviews": []any{},
		"messageReactionGroups": []any{}, "needaction_partner_ids": []any{}, "history_partner_ids": []any{},
		"is_note": false, "is_discussion": true, "subtype_description": false, "is_notification": false,
		"recipients": []any{}, "module_icon": "/mail/static/description/icon.png", "sms_ids": []any{},
	}
}

func insertTracking(ctx context.Context, tx pgx.Tx, refs Refs, messageID int, s Status, at time.Time) (int, error) {
	var id int
	err := tx.QueryRow(ctx, `
		INSERT INTO mail_tracking_value (field, field_desc, field_type, old_value_char, new_value_char, mail_message_id,
		    tracking_sequence, create_uid, create_date, write_uid, write_date)
		VALUES ($1, $2, 'char', $3, $4, $5, 100, 1, $6, 1, $6) RETURNING id`,
		refs.StatusField, s.Field, s.Old, s.New, messageID, at.UTC()).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("record the status of message %d: %w", messageID, err)
	}
	return id, nil
}

// trackingFormat is a tracking value as _tracking_value_format returns it.
func trackingFormat(id int, s Status) map[string]any {
	value := func(v string) map[string]any {
		return map[string]any{"currencyId": false, "fieldType": "char", "value": v}
	}
	return map[string]any{"changedField": s.Field, "id": id, "newValue": value(s.New), "oldValue": value(s.Old)}
}

// SetStatus shows a new delivery status under message messageID of channel
// channelID: its tracking value is written (created if it has none) and
// mail.message/insert tells the open clients, which redraw it.
func SetStatus(ctx context.Context, tx pgx.Tx, refs Refs, bus *Bus, channelID, messageID int, s Status, at time.Time) error {
	if refs.StatusField == 0 {
		return nil
	}
	var id int
	err := tx.QueryRow(ctx, `
		UPDATE mail_tracking_value SET field_desc = $3, old_value_char = $4, new_value_char = $5, write_uid = 1, write_date = $6
		WHERE id = (SELECT min(id) FROM mail_tracking_value WHERE mail_message_id = $1 AND field = $2)
		RETURNING id`, messageID, refs.StatusField, s.Field, s.Old, s.New, at.UTC()).Scan(&id)
	if err == pgx.ErrNoRows {
		id, err = insertTracking(ctx, tx, refs, messageID, s, at)
	}
	if err != nil {
		return fmt.Errorf("record the status of message %d: %w", messageID, err)
	}
	bus.Send(ChannelOf(channelID), "mail.message/insert", map[string]any{"id": messageID, "trackingValues": []any{trackingFormat(id, s)}})
	return nil
}

// AttachmentsOf reads the files of messages ids (message_attachment_rel), by message.
func AttachmentsOf(ctx context.Context, q DBTX, ids []int) (map[int][]Attachment, error) {
	rows, err := q.Query(ctx, `
		SELECT r.message_id, a.id, COALESCE(a.name, ''), COALESCE(a.mimetype, ''), COALESCE(a.checksum, ''),
		    COALESCE(a.res_model, ''), COALESCE(a.res_id, 0)
		FROM message_attachment_rel r JOIN ir_attachment a ON a.id = r.attachment_id
		WHERE r.message_id = ANY($1) ORDER BY r.message_id, a.id`, ids)
	if err != nil {
		return nil, fmt.Errorf("read the files of %d messages: %w", len(ids), err)
	}
	defer rows.Close()
	out := map[int][]Attachment{}
	for rows.Next() {
		var mid int
		var a Attachment
		if err := rows.Scan(&mid, &a.ID, &a.Name, &a.Mimetype, &a.Checksum, &a.ResModel, &a.ResID); err != nil {
			return nil, fmt.Errorf("read the files of %d messages: %w", len(ids), err)
		}
		out[mid] = append(out[mid], a)
	}
	return out, rows.Err()
}

// Message is a mail_message in a channel, as an operator wrote it.
type Message struct {
	ID        int
	ChannelID int
	Body      string // HTML
	Type      string // comment, notification
	AuthorID  int
	UserID    int // create_uid
	Author    string
	At        time.Time
}

// Messages reads the channel messages ids.
func Messages(ctx context.Context, q DBTX, ids []int) ([]Message, error) {
	rows, err := q.Query(ctx, `
		SELECT m.id, m.res_id, COALESCE(m.body, ''), m.message_type, COALESCE(m.author_id, 0), COALESCE(m.create_uid, 0),
		    COALESCE(p.name, ''), COALESCE(m.date, m.create_date)
		FROM mail_message m LEFT JOIN res_partner p ON p.id = m.author_id
		WHERE m.id = ANY($1) AND m.model = 'mail.channel' ORDER BY m.id`, ids)
	if err != nil {
		return nil, fmt.Errorf("read %d channel messages: %w", len(ids), err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Message])
}

var (
	breaks = strings.NewReplacer("<br>", "\n", "<br/>", "\n", "<br />", "\n", "</p><p>", "\n", "</p>\n<p>", "\n", "</div><div>", "\n")
	tags   = regexp.MustCompile(`<[^>]*>`)
)

// PlainText is what an operator typed, from the HTML body Odoo's composer stored:
// paragraphs and line breaks as new lines, tags dropped, entities decoded.
func PlainText(body string) string {
	return strings.TrimSpace(html.UnescapeString(tags.ReplaceAllString(breaks.Replace(body), "")))
}

// React sets partner's reaction to message messageID of channel channelID, as
// WhatsApp has it: one reaction per person and message, a new emoji replaces the
// old one, an empty one removes it (mail_message_reaction rows), and
// mail.message/insert redraws the message's reaction groups as Odoo's
// _message_add_reaction_after_hook sends them.
func React(ctx context.Context, tx pgx.Tx, bus *Bus, channelID, messageID int, partner Partner, emoji string) error {
	rows, err := tx.Query(ctx, `DELETE FROM mail_message_reaction WHERE message_id = $1 AND partner_id = $2 RETURNING content`,
		messageID, partner.ID)
	if err != nil {
		return fmt.Errorf("remove the reaction of partner %d: %w", partner.ID, err)
	}
	removed, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("remove the reaction of partner %d: %w", partner.ID, err)
	}
	if emoji != "" {
		if _, err := tx.Exec(ctx, `INSERT INTO mail_message_reaction (message_id, partner_id, content) VALUES ($1, $2, $3)`,
			messageID, partner.ID, emoji); err != nil {
			return fmt.Errorf("record the reaction of partner %d: %w", partner.ID, err)
		}
	}
	var groups []any
	group := func(content string, added bool) error {
		var count int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM mail_message_reaction WHERE message_id = $1 AND content = $2`,
			messageID, content).Scan(&count); err != nil {
			return fmt.Errorf("count the reactions of message %d: %w", messageID, err)
		}
		op, partnerOp := "insert", "insert"
		if count == 0 {
			op = "insert-and-unlink"
		}
		if !added {
			partnerOp = "insert-and-unlink"
		}
		groups = append(groups, []any{op, map[string]any{
			"content": content, "count": count, "guests": []any{}, "message": map[string]any{"id": messageID},
			"partners": []any{[]any{partnerOp, map[string]any{"id": partner.ID, "name": partner.Name}}},
		}})
		return nil
	}
	for _, c := range removed {
		if c != emoji {
			if err := group(c, false); err != nil {
				return err
			}
		}
	}
	if emoji != "" {
		if err := group(emoji, true); err != nil {
			return err
		}
	}
	if len(groups) > 0 {
		bus.Send(ChannelOf(channelID), "mail.message/insert", map[string]any{"id": messageID, "messageReactionGroups": groups})
	}
	return nil
}
