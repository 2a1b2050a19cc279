package discuss

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify"
	odiscuss "github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/discuss"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/capture"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/outbox"
)

// operatorMessages turns what operators wrote in WhatsApp channels into queued
// messages (or refusals the channel explains), once per mail_message.
func (w *Worker) operatorMessages(ctx context.Context, tx pgx.Tx, refs odiscuss.Refs, bus *odiscuss.Bus, ids []int) (outcomes []string, err error) {
	msgs, err := odiscuss.Messages(ctx, tx, ids)
	if err != nil {
		return nil, err
	}
	// Read after Odoo's commit: message_attachment_rel is filled after the insert.
	files, err := odiscuss.AttachmentsOf(ctx, tx, ids)
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		if m.Type != "comment" {
			continue
		}
		done, err := outbox.ByDiscussMessage(ctx, tx, m.ID)
		if err != nil {
			return nil, err
		}
		if len(done) > 0 {
			continue
		}
		conv, found, err := conversationOfChannel(ctx, tx, m.ChannelID)
		if err != nil {
			return nil, err
		}
		if !found {
			continue
		}
		ch, found, err := odiscuss.GetChannel(ctx, tx, m.ChannelID)
		if err != nil {
			return nil, err
		}
		if !found {
			continue
		}
		operator, err := isOperator(ctx, tx, m.AuthorID)
		if err != nil {
			return nil, err
		}
		if !operator {
			// Posted as the customer (an integration calling message_post with
			// author_id), or by a portal user: not an answer to send.
			continue
		}
		outcome, err := w.operatorMessage(ctx, tx, refs, bus, conv, ch, m, files[m.ID])
		if err != nil {
			return nil, fmt.Errorf("operator message %d: %w", m.ID, err)
		}
		if outcome != "" {
			outcomes = append(outcomes, outcome)
		}
	}
	return outcomes, nil
}

// operatorMessage acts on one message an operator wrote: a command, a template,
// or an answer queued (or refused, the channel saying why). outcome names it for
// the metrics.
func (w *Worker) operatorMessage(ctx context.Context, tx pgx.Tx, refs odiscuss.Refs, bus *odiscuss.Bus, conv conversation,
	ch odiscuss.ChannelInfo, m odiscuss.Message, files []odiscuss.Attachment) (outcome string, err error) {
	wd := w.words(conv.ConfigID)
	now := w.Now()
	text := odiscuss.PlainText(m.Body)
	word, rest, _ := strings.Cut(text, " ")
	rest = strings.TrimSpace(rest)
	by := m.Author
	switch strings.ToLower(word) {
	case "/fermer", "/close":
		if err := setState(ctx, tx, conv.ID, "closed", nil, m.UserID); err != nil {
			return "", err
		}
		return "command", w.notice(ctx, tx, refs, bus, ch, wd.closedBy(by), now)
	case "/rouvrir", "/reopen":
		if err := setState(ctx, tx, conv.ID, "open", nil, m.UserID); err != nil {
			return "", err
		}
		return "command", w.notice(ctx, tx, refs, bus, ch, wd.reopenedBy(by), now)
	case "/assigner", "/assign":
		user, name, err := w.findUser(ctx, tx, rest, m.UserID)
		if err != nil {
			return "", err
		}
		if err := setState(ctx, tx, conv.ID, conv.State, &user, m.UserID); err != nil {
			return "", err
		}
		return "command", w.notice(ctx, tx, refs, bus, ch, wd.assigned(name, by), now)
	case "/modele", "/modèle", "/template":
		return w.sendTemplate(ctx, tx, refs, bus, conv, ch, m, rest, wd)
	}

	rows := replyRows(conv, m, text, files)
	if len(rows) == 0 {
		return "", nil
	}
	var reason string
	switch {
	case conv.OptOut:
		reason = wd.notSentOptOut()
	case windowClosed(conv.LastInboundAt, now):
		reason = wd.notSentWindow()
	}
	if err := queueAnswer(ctx, tx, refs, bus, ch, m, wd, reason, now, rows...); err != nil {
		return "", err
	}
	if reason == "" {
		return "queued", nil
	}
	if !conv.OptOut {
		// Say what can still reach the customer.
		names, err := approvedTemplates(ctx, tx, conv.ConfigID)
		if err != nil {
			return "", err
		}
		reason += " " + wd.templates(names)
	}
	return "refused", w.notice(ctx, tx, refs, bus, ch, reason, now)
}

// queueAnswer queues the rows an operator's message becomes, as failed with reason
// when it is refused (kept, so the message form says why), and shows on that
// message in Discuss whether they were queued or why not.
func queueAnswer(ctx context.Context, tx pgx.Tx, refs odiscuss.Refs, bus *odiscuss.Bus, ch odiscuss.ChannelInfo,
	m odiscuss.Message, wd words, reason string, now time.Time, rows ...outbox.Message) error {
	status := outbox.StatusQueued
	if reason != "" {
		status = outbox.StatusFailed
		for i := range rows {
			rows[i].Status, rows[i].ErrorMessage = outbox.StatusFailed, reason
		}
	}
	if _, err := outbox.EnqueueFromDiscuss(ctx, tx, m.ID, rows...); err != nil {
		return err
	}
	s := odiscuss.Status{Field: statusField, Old: origin, New: wd.status(status, reason)}
	return odiscuss.SetStatus(ctx, tx, refs, bus, ch.ID, m.ID, s, now)
}

// isOperator says whether partnerID is an internal user's: only they answer
// customers from Discuss.
func isOperator(ctx context.Context, tx pgx.Tx, partnerID int) (bool, error) {
	var ok bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM res_users WHERE partner_id = $1 AND active AND NOT COALESCE(share, false))`,
		partnerID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("read the author of a Discuss message: %w", err)
	}
	return ok, nil
}

// replyRows are the messages an operator's post becomes: each file one message
// (the text as the first one's caption where WhatsApp has captions), or the text.
// They are about the channel they were written in, whose files they send (the
// sender sends only a record's own attachments).
func replyRows(conv conversation, m odiscuss.Message, text string, files []odiscuss.Attachment) []outbox.Message {
	base := func(n int) outbox.Message {
		return outbox.Message{
			Message: notify.Message{ConfigID: conv.ConfigID, ContactID: conv.ContactID, Phone: conv.Phone,
				ContactName: conv.ContactName, Kind: replyKind, ResModel: "mail.channel", ResID: conv.ChannelID},
			ConversationID: conv.ID, DedupKey: "discuss:" + strconv.Itoa(m.ID) + ":" + strconv.Itoa(n),
		}
	}
	var rows []outbox.Message
	caption := text
	for i, f := range files {
		typ := mediaType(f.Mimetype)
		r := base(i + 1)
		r.Type, r.AttachmentID, r.MimeType = typ, f.ID, f.Mimetype
		r.Params = map[string]string{"filename": f.Name}
		if caption != "" && (typ == "image" || typ == "video" || typ == "document") {
			r.Caption, caption = caption, ""
		}
		rows = append(rows, r)
	}
	if caption != "" {
		r := base(0)
		r.Type, r.Content = "text", caption
		rows = append([]outbox.Message{r}, rows...)
	}
	return rows
}

// mediaType is the WhatsApp message type that carries a file of mimeType.
func mediaType(mimeType string) string {
	switch {
	case strings.HasPrefix(mimeType, "image/jpeg"), strings.HasPrefix(mimeType, "image/png"):
		return "image"
	case strings.HasPrefix(mimeType, "video/"):
		return "video"
	case strings.HasPrefix(mimeType, "audio/"):
		return "audio"
	}
	return "document"
}

// sendTemplate queues "/template NAME text": the approved template, with text
// as its parameter; it reaches the customer outside the window too.
func (w *Worker) sendTemplate(ctx context.Context, tx pgx.Tx, refs odiscuss.Refs, bus *odiscuss.Bus, conv conversation,
	ch odiscuss.ChannelInfo, m odiscuss.Message, args string, wd words) (string, error) {
	now := w.Now()
	name, param, _ := strings.Cut(args, " ")
	wa, lang, found, err := template(ctx, tx, conv.ConfigID, name)
	if err != nil {
		return "", err
	}
	row := replyRows(conv, m, "x", nil)[0]
	row.Type, row.Content, row.TemplateName, row.TemplateLanguage = "template", strings.TrimSpace(param), wa, lang
	row.Params = map[string]string{"partner_name": conv.ContactName}
	var reason string
	switch {
	case !found:
		reason = wd.notSentNoTemplate(name)
	case conv.OptOut:
		reason = wd.notSentOptOut()
	}
	if err := queueAnswer(ctx, tx, refs, bus, ch, m, wd, reason, now, row); err != nil {
		return "", err
	}
	if reason != "" {
		return "refused", w.notice(ctx, tx, refs, bus, ch, reason, now)
	}
	return "queued", nil
}

// findUser is the internal user "/assign NAME" names (by name or login), or the
// operator who wrote it when NAME is empty.
func (w *Worker) findUser(ctx context.Context, tx pgx.Tx, name string, self int) (int, string, error) {
	if name == "" || strings.EqualFold(name, "moi") || strings.EqualFold(name, "me") {
		n, err := userName(ctx, tx, self)
		return self, n, err
	}
	name = strings.TrimPrefix(name, "@")
	var id int
	var found string
	err := tx.QueryRow(ctx, `
		SELECT u.id, COALESCE(p.name, u.login) FROM res_users u JOIN res_partner p ON p.id = u.partner_id
		WHERE u.active AND NOT COALESCE(u.share, false) AND (p.name ILIKE $1 OR u.login = $2)
		ORDER BY (p.name ILIKE $2) DESC, u.id LIMIT 1`, "%"+name+"%", name).Scan(&id, &found)
	if err == pgx.ErrNoRows {
		n, err := userName(ctx, tx, self)
		return self, n, err
	}
	if err != nil {
		return 0, "", fmt.Errorf("find user %q: %w", name, err)
	}
	return id, found, nil
}

// conversationChanges tells the channels of conversations closed, reopened or
// assigned in Odoo's form.
func (w *Worker) conversationChanges(ctx context.Context, tx pgx.Tx, refs odiscuss.Refs, bus *odiscuss.Bus, c capture.Capture) error {
	for i, id := range c.ResIDs {
		if i >= len(c.OldValues) || i >= len(c.NewValues) {
			break
		}
		oldState, oldUser := splitState(c.OldValues[i])
		newState, newUser := splitState(c.NewValues[i])
		conv, found, err := getConversation(ctx, tx, id)
		if err != nil {
			return err
		}
		if !found || conv.ChannelID == 0 {
			continue
		}
		ch, found, err := odiscuss.GetChannel(ctx, tx, conv.ChannelID)
		if err != nil {
			return err
		}
		if !found {
			continue
		}
		var writer int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(write_uid, 0) FROM whatsapp_conversation WHERE id = $1`, id).Scan(&writer); err != nil {
			return fmt.Errorf("read conversation %d: %w", id, err)
		}
		by, err := userName(ctx, tx, writer)
		if err != nil {
			return err
		}
		wd := w.words(conv.ConfigID)
		var notices []string
		if oldState != newState {
			if newState == "closed" {
				notices = append(notices, wd.closedBy(by))
			} else {
				notices = append(notices, wd.reopenedBy(by))
			}
		}
		if oldUser != newUser {
			to, err := userName(ctx, tx, newUser)
			if err != nil {
				return err
			}
			notices = append(notices, wd.assigned(to, by))
		}
		for _, text := range notices {
			if err := w.notice(ctx, tx, refs, bus, ch, text, w.Now()); err != nil {
				return err
			}
		}
	}
	return nil
}

func splitState(v string) (string, int) {
	state, user, _ := strings.Cut(v, ":")
	id, _ := strconv.Atoi(user)
	return state, id
}
