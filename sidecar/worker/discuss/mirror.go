package discuss

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo"
	odiscuss "github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/discuss"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/outbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/phone"
)

// mirror brings the channels up to date with rows, in one transaction (one lock,
// one NOTIFY); if it fails, row by row, so one bad row holds back only itself. It
// returns how many rows it settled and the errors of those it could not.
func (w *Worker) mirror(ctx context.Context, rows []outbox.DiscussRow) (int, error) {
	var whats []string
	err := w.change(ctx, func(tx pgx.Tx, refs odiscuss.Refs, bus *odiscuss.Bus) error {
		whats = whats[:0]
		seen := &lookups{}
		for _, r := range rows {
			what, err := w.mirrorOne(ctx, tx, refs, bus, seen, r)
			if err != nil {
				return fmt.Errorf("message %d: %w", r.ID, err)
			}
			whats = append(whats, what)
		}
		return nil
	})
	if err == nil {
		for i, what := range whats {
			w.counted(rows[i], what)
			w.settled(rows[i].ID, nil)
		}
		return len(rows), nil
	}
	if ctx.Err() != nil {
		return 0, err
	}
	if len(rows) == 1 {
		w.settled(rows[0].ID, err)
		return 0, err
	}
	done := 0
	var errs []error
	for _, r := range rows {
		n, err := w.mirror(ctx, []outbox.DiscussRow{r})
		done += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	return done, errors.Join(errs...)
}

func (w *Worker) counted(r outbox.DiscussRow, what string) {
	if what == "" {
		return
	}
	w.countPost(what)
	if what == "customer" && w.Metrics != nil {
		w.Metrics.lag.Observe(w.Now().Sub(r.Recorded).Seconds())
	}
}

// mirrorOne brings the channel up to date with one message: posts it, or moves the
// status shown under it. what says which, for the metrics ("" when nothing was due).
func (w *Worker) mirrorOne(ctx context.Context, tx pgx.Tx, refs odiscuss.Refs, bus *odiscuss.Bus, seen *lookups, r outbox.DiscussRow) (what string, err error) {
	// Another replica may have done it between the listing and the lock.
	st, found, err := outbox.DiscussStateOf(ctx, tx, r.ID)
	if err != nil || !found || st.Shown == st.Status {
		return "", err
	}
	r.Shown, r.Status, r.DiscussMessageID = st.Shown, st.Status, st.DiscussMessageID
	if r.DiscussMessageID != 0 {
		return "status", w.moveStatus(ctx, tx, refs, bus, r)
	}
	what = "ours"
	if r.Direction == "in" {
		what = "customer"
	}
	return what, w.post(ctx, tx, refs, bus, seen, r)
}

// moveStatus shows a posted message's new status.
func (w *Worker) moveStatus(ctx context.Context, tx pgx.Tx, refs odiscuss.Refs, bus *odiscuss.Bus, r outbox.DiscussRow) error {
	if r.Direction == "out" && r.Shown != "" {
		var channelID int
		err := tx.QueryRow(ctx, `SELECT COALESCE(res_id, 0) FROM mail_message WHERE id = $1 AND model = 'mail.channel'`,
			r.DiscussMessageID).Scan(&channelID)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("read Discuss message %d: %w", r.DiscussMessageID, err)
		}
		if channelID != 0 {
			wd := w.words(r.ConfigID)
			s := odiscuss.Status{Field: statusField, Old: wd.status(r.Shown, ""), New: wd.status(r.Status, errorText(r))}
			if err := odiscuss.SetStatus(ctx, tx, refs, bus, channelID, r.DiscussMessageID, s, w.Now()); err != nil {
				return err
			}
		}
	}
	return outbox.MarkDiscussShown(ctx, tx, outbox.DiscussShown{ID: r.ID, Shown: r.Status})
}

func errorText(r outbox.DiscussRow) string {
	if r.Status != "failed" {
		return ""
	}
	if r.ErrorCode != 0 && !strings.Contains(r.ErrorMessage, strconv.Itoa(r.ErrorCode)) {
		return fmt.Sprintf("%s (%d)", r.ErrorMessage, r.ErrorCode)
	}
	return r.ErrorMessage
}

// post writes a message the channel does not show yet, creating the conversation
// (ours: a notification to a customer who never wrote) and its channel as needed.
func (w *Worker) post(ctx context.Context, tx pgx.Tx, refs odiscuss.Refs, bus *odiscuss.Bus, seen *lookups, r outbox.DiscussRow) error {
	conv, ok, err := w.conversationFor(ctx, tx, r)
	if err != nil {
		return err
	}
	if !ok {
		// No number, so no WhatsApp conversation (a partner without one): the
		// message's own form says why it failed.
		return outbox.MarkDiscussShown(ctx, tx, outbox.DiscussShown{ID: r.ID, Shown: r.Status})
	}
	wd := w.words(conv.ConfigID)
	now := w.Now()
	ch, created, err := w.channelFor(ctx, tx, bus, seen, &conv)
	if err != nil {
		return err
	}
	author, err := w.author(ctx, tx, seen, &conv, r, wd, now)
	if err != nil {
		return err
	}
	if done, err := w.reaction(ctx, tx, bus, r, author); err != nil || done {
		if err != nil {
			return err
		}
		return outbox.MarkDiscussShown(ctx, tx, outbox.DiscussShown{ID: r.ID, Shown: r.Status, ConversationID: conv.ID, ContactID: conv.ContactID})
	}
	att, err := attachmentOf(ctx, tx, r.AttachmentID)
	if err != nil {
		return err
	}
	p := odiscuss.Post{Channel: ch, Author: author, BodyHTML: w.body(r, att != nil, wd), At: r.At}
	if att != nil {
		p.Attachments = []odiscuss.Attachment{*att}
	}
	if r.Direction == "out" {
		p.Status = &odiscuss.Status{Field: statusField, Old: origin, New: wd.status(r.Status, errorText(r))}
	}
	posted, err := odiscuss.PostMessage(ctx, tx, refs, bus, p)
	if err != nil {
		return err
	}
	var notices []string
	if r.Direction == "in" && conv.State == "closed" {
		if err := setState(ctx, tx, conv.ID, "open", nil, 0); err != nil {
			return err
		}
		notices = append(notices, wd.reopenedByCustomer())
	}
	switch r.Kind {
	case "reply_opt_out":
		notices = append(notices, wd.optedOut())
	case "reply_opt_in":
		notices = append(notices, wd.optedIn())
	}
	if created && windowClosed(conv.LastInboundAt, now) {
		text, err := w.windowNotice(ctx, tx, conv, wd)
		if err != nil {
			return err
		}
		notices = append(notices, text)
	}
	for _, text := range notices {
		if err := w.notice(ctx, tx, refs, bus, ch, text, now); err != nil {
			return err
		}
	}
	if err := w.linkRecord(ctx, tx, refs, r, ch, wd, now); err != nil {
		return err
	}
	return outbox.MarkDiscussShown(ctx, tx, outbox.DiscussShown{ID: r.ID, Shown: r.Status, DiscussMessageID: posted.ID,
		ConversationID: conv.ID, ContactID: conv.ContactID})
}

// reaction shows a customer's reaction to one of our messages as an Odoo reaction
// on it; done is false when the row is no reaction to a message the channel shows
// (it is then posted as a line of text).
func (w *Worker) reaction(ctx context.Context, tx pgx.Tx, bus *odiscuss.Bus, r outbox.DiscussRow, author odiscuss.Partner) (bool, error) {
	if r.Direction != "in" || r.Type != "reaction" {
		return false, nil
	}
	var raw inboundRaw
	if json.Unmarshal([]byte(r.Raw), &raw) != nil || raw.Reaction == nil || raw.Reaction.MessageID == "" {
		return false, nil
	}
	target, err := outbox.DiscussMessageOf(ctx, tx, raw.Reaction.MessageID)
	if err != nil || target == 0 {
		return false, err
	}
	var channelID int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(res_id, 0) FROM mail_message WHERE id = $1 AND model = 'mail.channel'`, target).
		Scan(&channelID); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil
		}
		return false, fmt.Errorf("read Discuss message %d: %w", target, err)
	}
	return true, odiscuss.React(ctx, tx, bus, channelID, target, author, raw.Reaction.Emoji)
}

// notice posts one of the channel's own lines, by OdooBot.
func (w *Worker) notice(ctx context.Context, tx pgx.Tx, refs odiscuss.Refs, bus *odiscuss.Bus, ch odiscuss.ChannelInfo, text string, at time.Time) error {
	_, err := odiscuss.PostMessage(ctx, tx, refs, bus, odiscuss.Post{Channel: ch, Author: refs.OdooBot,
		BodyHTML: odiscuss.NoticeHTML(text), At: at, Notice: true})
	if err == nil {
		w.countPost("notice")
	}
	return err
}

func windowClosed(lastInbound *time.Time, now time.Time) bool {
	return lastInbound == nil || !lastInbound.Add(24*time.Hour).After(now.UTC())
}

// windowNotice is what the channel says when the window is closed, and records
// that it said it.
func (w *Worker) windowNotice(ctx context.Context, tx pgx.Tx, conv conversation, wd words) (string, error) {
	names, err := approvedTemplates(ctx, tx, conv.ConfigID)
	if err != nil {
		return "", err
	}
	if err := setTold(ctx, tx, conv.ID); err != nil {
		return "", err
	}
	return wd.windowClosed(names), nil
}

// conversationFor is the row's conversation: its own, else (a message we sent) the
// one of the account and number it went to, created if the customer never wrote.
// ok is false when the row has no number to have a conversation with.
func (w *Worker) conversationFor(ctx context.Context, tx pgx.Tx, r outbox.DiscussRow) (conversation, bool, error) {
	if r.ConversationID != 0 {
		c, found, err := getConversation(ctx, tx, r.ConversationID)
		if err != nil || found {
			return c, found, err
		}
	}
	if r.Phone == "" {
		return conversation{}, false, nil
	}
	configID, region := r.ConfigID, ""
	if a := w.account(r.ConfigID); a != nil {
		configID, region = a.ConfigID, a.DefaultRegion
	}
	num, err := phone.Normalize(r.Phone, region)
	if err != nil {
		return conversation{}, false, nil
	}
	name := num.E164
	contactName := r.ContactName
	if r.ContactID != 0 {
		if pn, err := partnerName(ctx, tx, r.ContactID); err != nil {
			return conversation{}, false, err
		} else if pn != "" {
			contactName = pn
		}
	}
	if contactName != "" {
		name = contactName + " - " + num.E164
	}
	var id int
	if err := tx.QueryRow(ctx, upsertOutboundConversation, name, num.E164, num.WaID, configID, r.ContactID, r.ContactName,
		r.At.UTC()).Scan(&id); err != nil {
		return conversation{}, false, fmt.Errorf("record the conversation of message %d: %w", r.ID, err)
	}
	return getConversation(ctx, tx, id)
}

// channelFor is the conversation's channel, created with the configuration's
// operators as members when it has none (created is then true); operators added
// to the configuration since join it.
func (w *Worker) channelFor(ctx context.Context, tx pgx.Tx, bus *odiscuss.Bus, seen *lookups, conv *conversation) (ch odiscuss.ChannelInfo, created bool, err error) {
	members, err := seen.operators(ctx, tx, conv.ConfigID)
	if err != nil {
		return ch, false, err
	}
	if conv.ChannelID != 0 {
		ch, found, err := odiscuss.GetChannel(ctx, tx, conv.ChannelID)
		if err != nil {
			return ch, false, err
		}
		if found {
			ch, err = odiscuss.AddMembers(ctx, tx, bus, ch, members, w.Now())
			return ch, false, err
		}
	}
	name := conv.Phone
	if conv.ContactName != "" {
		name = conv.ContactName + " (" + conv.Phone + ")"
	}
	desc := "WhatsApp " + conv.Phone
	if a := w.account(conv.ConfigID); a != nil && a.Name != "" {
		desc += " · " + a.Name
	}
	ch, err = odiscuss.CreateChannel(ctx, tx, bus, odiscuss.NewChannel{Name: name, Description: desc, Members: members}, w.Now())
	if err != nil {
		return ch, false, err
	}
	if err := setChannel(ctx, tx, conv.ID, ch.ID); err != nil {
		return ch, false, err
	}
	conv.ChannelID = ch.ID
	return ch, true, nil
}

// author is who the message is from: the customer's partner (one is created for a
// number no partner has, tagged as such), or for ours the business's partner.
func (w *Worker) author(ctx context.Context, tx pgx.Tx, seen *lookups, conv *conversation, r outbox.DiscussRow, wd words, now time.Time) (odiscuss.Partner, error) {
	if r.Direction == "out" {
		p, err := seen.business(ctx, tx, conv.ConfigID)
		if err != nil || p.ID != 0 {
			return p, err
		}
		refs, err := odiscuss.LoadRefs(ctx, tx)
		return refs.OdooBot, err
	}
	id := conv.ContactID
	if id == 0 {
		id = r.ContactID
	}
	if id != 0 {
		name, err := partnerName(ctx, tx, id)
		if err != nil {
			return odiscuss.Partner{}, err
		}
		if conv.ContactID == 0 {
			if err := setContact(ctx, tx, conv.ID, id); err != nil {
				return odiscuss.Partner{}, err
			}
			conv.ContactID = id
		}
		return odiscuss.Partner{ID: id, Name: name}, nil
	}
	name := r.ContactName
	if name == "" {
		name = conv.Phone
	}
	region := ""
	if num, err := phone.Normalize(conv.Phone); err == nil {
		region = num.Region
	}
	id, err := odoo.CreateContact(ctx, tx, odoo.NewContact{Name: name, Mobile: conv.Phone, Country: region,
		Note: "<p>" + odoo.EscapeHTML(wd.unknownContact()) + "</p>", Tag: wd.unknownTag()}, now)
	if err != nil {
		return odiscuss.Partner{}, err
	}
	if err := setContact(ctx, tx, conv.ID, id); err != nil {
		return odiscuss.Partner{}, err
	}
	conv.ContactID, conv.ContactName = id, name
	return odiscuss.Partner{ID: id, Name: name}, nil
}

// attachmentOf reads the row's file, nil when it has none.
func attachmentOf(ctx context.Context, tx pgx.Tx, id int) (*odiscuss.Attachment, error) {
	if id == 0 {
		return nil, nil
	}
	var a odiscuss.Attachment
	err := tx.QueryRow(ctx, `SELECT id, COALESCE(name, ''), COALESCE(mimetype, ''), COALESCE(checksum, ''),
		COALESCE(res_model, ''), COALESCE(res_id, 0) FROM ir_attachment WHERE id = $1`, id).
		Scan(&a.ID, &a.Name, &a.Mimetype, &a.Checksum, &a.ResModel, &a.ResID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read attachment %d: %w", id, err)
	}
	return &a, nil
}

// inboundRaw is what the channel shows of Meta's message JSON beyond the row's
// text: a click's title, a location, a reaction.
type inboundRaw struct {
	Interactive *struct {
		ButtonReply *struct{ Title string }              `json:"button_reply"`
		ListReply   *struct{ Title, Description string } `json:"list_reply"`
	} `json:"interactive"`
	Button *struct {
		Text    string `json:"text"`
		Payload string `json:"payload"`
	} `json:"button"`
	Location *struct {
		Latitude  float64 `json:"latitude"`
		Longitude float64 `json:"longitude"`
		Name      string  `json:"name"`
		Address   string  `json:"address"`
	} `json:"location"`
	Reaction *struct {
		Emoji     string `json:"emoji"`
		MessageID string `json:"message_id"`
	} `json:"reaction"`
	Contacts []struct {
		Name struct {
			FormattedName string `json:"formatted_name"`
		} `json:"name"`
		Phones []struct {
			Phone string `json:"phone"`
		} `json:"phones"`
	} `json:"contacts"`
}

// body is the message as the channel shows it: what the customer sees of ours
// (text, buttons, template), what they sent (a click as its button's title, a
// location as a map link); media come as the attachment.
func (w *Worker) body(r outbox.DiscussRow, hasFile bool, wd words) string {
	text := r.Content
	if r.Direction == "in" {
		var raw inboundRaw
		_ = json.Unmarshal([]byte(r.Raw), &raw) // a row without Meta's JSON keeps its text
		switch {
		case raw.Interactive != nil && raw.Interactive.ButtonReply != nil:
			text = "🔘 " + raw.Interactive.ButtonReply.Title
		case raw.Interactive != nil && raw.Interactive.ListReply != nil:
			text = "🔘 " + raw.Interactive.ListReply.Title
		case raw.Button != nil:
			text = "🔘 " + firstNonEmpty(raw.Button.Text, raw.Button.Payload)
		case raw.Location != nil:
			l := raw.Location
			place := strings.TrimSpace(strings.Join(nonEmpty(l.Name, l.Address), ", "))
			if place == "" {
				place = wd.location()
			}
			url := fmt.Sprintf("https://www.openstreetmap.org/?mlat=%s&mlon=%s",
				strconv.FormatFloat(l.Latitude, 'f', -1, 64), strconv.FormatFloat(l.Longitude, 'f', -1, 64))
			return odiscuss.TextHTML("📍 "+place) + `<p><a href="` + htmlAttr(url) + `" target="_blank">` + odoo.EscapeHTML(url) + `</a></p>`
		case raw.Reaction != nil:
			text = wd.reaction(raw.Reaction.Emoji)
		case len(raw.Contacts) > 0:
			var lines []string
			for _, c := range raw.Contacts {
				line := "👤 " + c.Name.FormattedName
				for _, p := range c.Phones {
					line += " " + p.Phone
				}
				lines = append(lines, line)
			}
			text = strings.Join(lines, "\n")
		case hasFile:
			text = r.Caption
		}
		if r.ErrorMessage != "" && !hasFile {
			text += "\n(" + r.ErrorMessage + ")"
		}
		if strings.TrimSpace(text) == "" {
			return "" // a file alone: no empty bubble above it
		}
		return odiscuss.TextHTML(text)
	}
	switch {
	case r.Type == "template":
		text = strings.TrimSpace("📋 " + wd.template(r.TemplateName) + "\n" + r.Content)
	case hasFile:
		text = r.Caption
	}
	var buttons []struct{ Title string }
	if r.Buttons != "" {
		_ = json.Unmarshal([]byte(r.Buttons), &buttons) // hand-written junk: no buttons shown
	}
	html := odiscuss.TextHTML(text)
	if text == "" {
		html = ""
	}
	if len(buttons) > 0 {
		var b strings.Builder
		b.WriteString("<p>")
		for i, bt := range buttons {
			if i > 0 {
				b.WriteString(" ")
			}
			b.WriteString("[" + odoo.EscapeHTML(bt.Title) + "]")
		}
		b.WriteString("</p>")
		html += b.String()
	}
	return html
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func nonEmpty(s ...string) []string {
	var out []string
	for _, v := range s {
		if strings.TrimSpace(v) != "" {
			out = append(out, v)
		}
	}
	return out
}

func htmlAttr(s string) string { return strings.ReplaceAll(odoo.EscapeHTML(s), `"`, "&quot;") }

// linkRecord gives the order's or invoice's chatter a link to the conversation in
// Discuss, once per record and channel.
func (w *Worker) linkRecord(ctx context.Context, tx pgx.Tx, refs odiscuss.Refs, r outbox.DiscussRow, ch odiscuss.ChannelInfo, wd words, now time.Time) error {
	if (r.ResModel != "sale.order" && r.ResModel != "account.move") || r.ResID == 0 {
		return nil
	}
	linked, err := linkedInChatter(ctx, tx, r.ResModel, r.ResID, ch.ID)
	if err != nil || linked {
		return err
	}
	href := refs.ChannelURL(ch.ID)
	body := "<p>" + odoo.EscapeHTML(wd.chatterLink("")) + `<a href="` + htmlAttr(href) + `">` + odoo.EscapeHTML(ch.Name) + "</a></p>"
	return odoo.PostNotes(ctx, tx, []odoo.Note{{Model: r.ResModel, ResID: r.ResID, BodyHTML: body, At: now}}, now)
}

// windows tells the channels whose 24-hour window has closed.
func (w *Worker) windows(ctx context.Context) (int, error) {
	rows, err := w.Pool.Query(ctx, closedWindows, w.BatchSize)
	if err != nil {
		return 0, fmt.Errorf("look for closed 24-hour windows: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return 0, fmt.Errorf("look for closed 24-hour windows: %w", err)
	}
	done := 0
	var errs []error
	for _, id := range ids {
		err := w.change(ctx, func(tx pgx.Tx, refs odiscuss.Refs, bus *odiscuss.Bus) error {
			conv, found, err := getConversation(ctx, tx, id)
			if err != nil || !found || conv.ChannelID == 0 || !windowClosed(conv.LastInboundAt, w.Now()) {
				return err
			}
			if conv.Told {
				return nil
			}
			ch, found, err := odiscuss.GetChannel(ctx, tx, conv.ChannelID)
			if err != nil || !found {
				return err
			}
			wd := w.words(conv.ConfigID)
			text, err := w.windowNotice(ctx, tx, conv, wd)
			if err != nil {
				return err
			}
			return w.notice(ctx, tx, refs, bus, ch, text, w.Now())
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("conversation %d: %w", id, err))
			continue
		}
		done++
	}
	return done, errors.Join(errs...)
}
