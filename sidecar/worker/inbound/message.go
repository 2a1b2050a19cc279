package inbound

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/accounts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify/texts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/inbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/outbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/phone"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/actions"
)

func (p *Processor) claim(ctx context.Context, wamid string) (int, error) {
	return inbox.ClaimMessage(ctx, p.Pool, p.ownerID.Load(), wamid)
}

// release gives a message back after a failure, so the retry of its delivery takes
// it at once.
func (p *Processor) release(ctx context.Context, wamid string) {
	if err := inbox.ReleaseMessage(context.WithoutCancel(ctx), p.Pool, wamid); err != nil {
		p.Logger.Warn("releasing a message claim (it ends with this processor)", "wamid", wamid, "err", err)
	}
}

// account is the account a change was addressed to (metadata.phone_number_id).
func (p *Processor) account(phoneNumberID string) *accounts.Account {
	if p.Accounts == nil {
		return nil
	}
	return p.Accounts.ByPhoneNumberID(phoneNumberID)
}

// number is the customer's number from a wa_id (digits, country code first).
func number(waID string) phone.Number {
	if n, err := phone.Normalize("+" + waID); err == nil {
		return n
	}
	// A number libphonenumber does not know yet is still the customer's.
	return phone.Number{E164: "+" + waID, WaID: waID}
}

func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// message records one inbound message and runs what it asks, once.
func (p *Processor) message(ctx context.Context, c Change, m Message) (err error) {
	attempt, err := p.claim(ctx, m.ID)
	if err != nil {
		return err
	}
	if attempt == 0 {
		p.countMessage(m.Type, "duplicate")
		return nil
	}
	defer func() {
		if err != nil {
			p.release(ctx, m.ID)
		}
	}()
	acc := p.account(c.PhoneNumberID)
	if acc == nil {
		p.Logger.Warn("message to a WhatsApp number no active configuration has: stored, not answered",
			"phone_number_id", c.PhoneNumberID)
	}
	num := number(digits(m.From))
	now := p.Now()
	at := Timestamp(m.Timestamp)
	if at.IsZero() || at.After(now) {
		at = now
	}
	profile := c.ProfileName(num.WaID)
	keyword, optOut := p.keyword(acc, m)

	conv, err := p.conversation(ctx, acc, num, profile, at, keyword != "")
	if err != nil {
		return err
	}
	media, mediaErr, err := p.download(ctx, acc, m, attempt)
	if err != nil {
		return err
	}

	var plan *actions.Plan
	if id, title, ok := m.Click(); ok && acc != nil {
		plan, err = p.Actions.Click(ctx, actions.Click{
			Customer: actions.Customer{Account: acc, Phone: num, ProfileName: profile, ConversationID: conv.id, Partner: conv.partner},
			ButtonID: id, Title: title, WaMessageID: m.ID, ContextID: m.ContextID(), At: at, Attempt: attempt,
		})
		if err != nil {
			return err
		}
	}
	sentAbout, err := outbox.AboutSent(ctx, p.Pool, m.ContextID())
	if err != nil {
		return err
	}
	about := actions.Record{Model: sentAbout.Model, ID: sentAbout.ID, Name: sentAbout.Name}
	if about.Model != "sale.order" && about.Model != "account.move" {
		about = actions.Record{} // a reply in a conversation, about no order or invoice
	}
	if plan != nil && plan.Record().Model != "" {
		about = plan.Record()
	}

	row := inboundRow{msg: m, acc: acc, num: num, conv: conv, profile: profile, at: at, about: about}
	row.errCode, row.errMsg = m.ErrorOf()
	if mediaErr != "" && row.errMsg == "" {
		row.errMsg = mediaErr
	}
	err = odoo.WithLockTimeout(ctx, p.Pool, func(tx pgx.Tx) error {
		id, err := row.insert(ctx, tx)
		if err != nil || id == 0 {
			// id 0: recorded by an earlier run whose claim was purged since.
			return err
		}
		if media != nil {
			if err := media.attach(ctx, tx, id, acc); err != nil {
				return err
			}
		}
		var notes []odoo.Note
		if keyword != "" {
			n, err := p.optOut(ctx, tx, row, keyword, optOut)
			if err != nil {
				return err
			}
			notes = append(notes, n...)
		}
		if plan != nil {
			if err := plan.Apply(ctx, tx, now); err != nil {
				return err
			}
		}
		// A reply about an order or invoice shows in its chatter, as a salesperson
		// expects; a click an action handled shows through the action's own answer.
		if about.Model != "" && (plan == nil || !plan.Matched) {
			text := customerText(acc, "note_customer_reply", texts.Vars{
				"contact": conv.name(profile), "phone": num.E164, "content": noteContent(m)})
			notes = append(notes, odoo.Note{Model: about.Model, ResID: about.ID, RecordName: about.Name,
				BodyHTML: "<p>" + odoo.EscapeHTML(text) + "</p>"})
		}
		if err := odoo.PostNotes(ctx, tx, notes, now); err != nil {
			return err
		}
		return inbox.MessageDone(ctx, tx, m.ID)
	})
	if err != nil {
		return err
	}
	p.countMessage(m.Type, "stored")
	return nil
}

// noteContent is the message as a chatter note quotes it: a click marked with the
// button sign Discuss shows too, since a stored note cannot follow each reader's
// language.
func noteContent(m Message) string {
	if _, _, ok := m.Click(); ok {
		return "🔘 " + m.Content()
	}
	return m.Content()
}

func customerText(acc *accounts.Account, key string, vars texts.Vars) string {
	if acc == nil {
		return texts.Render(texts.French, key, "", vars)
	}
	return acc.Text(key, vars)
}

// conversation is the customer's conversation with an account and the partner it
// is linked to.
type conversation struct {
	id       int
	partner  *notify.Partner
	partners []notify.Partner // every partner with this number, for opt-out
}

func (c conversation) name(profile string) string {
	if c.partner != nil {
		return c.partner.Name
	}
	return profile
}

// upsertConversation creates the conversation on first contact, and on every
// message moves last_inbound_at (the 24-hour window the sender checks) forward,
// links a partner found since, and keeps the latest profile name.
const upsertConversation = `
INSERT INTO whatsapp_conversation (name, phone, wa_id, config_id, contact_id, contact_name, last_inbound_at,
    last_message_at, create_uid, create_date, write_uid, write_date)
VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''), $7, $7, 1, now() AT TIME ZONE 'utc', 1, now() AT TIME ZONE 'utc')
ON CONFLICT ((COALESCE(config_id, 0)), wa_id) WHERE wa_id IS NOT NULL DO UPDATE SET
    last_inbound_at = GREATEST(whatsapp_conversation.last_inbound_at, EXCLUDED.last_inbound_at),
    last_message_at = GREATEST(whatsapp_conversation.last_message_at, EXCLUDED.last_message_at),
    contact_id = COALESCE(whatsapp_conversation.contact_id, EXCLUDED.contact_id),
    contact_name = COALESCE(EXCLUDED.contact_name, whatsapp_conversation.contact_name),
    write_date = now() AT TIME ZONE 'utc'
RETURNING id, contact_id`

// conversation finds or creates the customer's conversation. The partner is looked
// up by number only until one is linked (the lookup scans partners' numbers); for
// an opt-out keyword every partner with the number is wanted.
func (p *Processor) conversation(ctx context.Context, acc *accounts.Account, num phone.Number, profile string,
	at time.Time, allPartners bool) (conversation, error) {
	var configID *int
	region := ""
	if acc != nil {
		if acc.ConfigID != 0 {
			configID = &acc.ConfigID
		}
		region = acc.DefaultRegion
	}
	var conv conversation
	var linked *int
	err := p.Pool.QueryRow(ctx, `SELECT contact_id FROM whatsapp_conversation WHERE COALESCE(config_id, 0) = COALESCE($1, 0) AND wa_id = $2`,
		configID, num.WaID).Scan(&linked)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return conv, fmt.Errorf("read conversation: %w", err)
	}
	if linked != nil {
		partner, found, err := odoo.GetPartner(ctx, p.Pool, *linked)
		if err != nil {
			return conv, err
		}
		if found {
			conv.partner = &partner
		}
	}
	if conv.partner == nil || allPartners {
		conv.partners, err = actions.FindPartners(ctx, p.Pool, num, region)
		if err != nil {
			return conv, err
		}
		if conv.partner == nil && len(conv.partners) > 0 {
			conv.partner = &conv.partners[0]
		}
		if conv.partner != nil && !containsPartner(conv.partners, conv.partner.ID) {
			conv.partners = append(conv.partners, *conv.partner)
		}
	}
	var contactID *int
	name := num.E164
	switch {
	case conv.partner != nil:
		contactID, name = &conv.partner.ID, conv.partner.Name+" - "+num.E164
	case profile != "":
		name = profile + " - " + num.E164
	}
	err = p.Pool.QueryRow(ctx, upsertConversation, name, num.E164, num.WaID, configID, contactID, profile, at.UTC()).
		Scan(&conv.id, &linked)
	if err != nil {
		return conv, fmt.Errorf("record conversation: %w", err)
	}
	return conv, nil
}

func containsPartner(ps []notify.Partner, id int) bool {
	for _, p := range ps {
		if p.ID == id {
			return true
		}
	}
	return false
}

// inboundRow is a message as whatsapp_message stores it.
type inboundRow struct {
	msg     Message
	acc     *accounts.Account
	num     phone.Number
	conv    conversation
	profile string
	at      time.Time
	about   actions.Record
	errCode int
	errMsg  string
}

// insert stores the row; 0 when the wamid is recorded already.
func (r inboundRow) insert(ctx context.Context, tx pgx.Tx) (int, error) {
	rec := outbox.Received{ConversationID: r.conv.id, WaMessageID: r.msg.ID, Phone: r.num.E164, ContactName: r.profile,
		Content: r.msg.Content(), Type: r.msg.Type, Raw: r.msg.Raw, ResModel: r.about.Model, ResID: r.about.ID,
		ReplyTo: r.msg.ContextID(), ErrorCode: r.errCode, ErrorText: r.errMsg, At: r.at}
	if r.acc != nil {
		rec.ConfigID = r.acc.ConfigID
	}
	if r.conv.partner != nil {
		rec.ContactID = r.conv.partner.ID
		if rec.ContactName == "" {
			rec.ContactName = r.conv.partner.Name
		}
	}
	if id, _, ok := r.msg.Click(); ok {
		rec.ButtonID = id
	}
	if media := r.msg.Media(); media != nil {
		rec.MediaID, rec.MimeType, rec.Caption = media.ID, media.MimeType, media.Caption
	}
	return outbox.RecordReceived(ctx, tx, rec)
}

// keyword says whether a message is an opt-out or opt-in keyword (the whole text,
// or a template quick reply's payload), and which.
func (p *Processor) keyword(acc *accounts.Account, m Message) (word string, optOut bool) {
	var text string
	switch {
	case m.Text != nil:
		text = m.Text.Body
	case m.Button != nil:
		text = m.Button.Payload
		if text == "" {
			text = m.Button.Text
		}
	default:
		return "", false
	}
	norm := strings.ToUpper(strings.Trim(strings.TrimSpace(text), " .!?¡¿'\"…"))
	if norm == "" {
		return "", false
	}
	outWords, inWords := accounts.DefaultOptOutKeywords, accounts.DefaultOptInKeywords
	if acc != nil {
		outWords, inWords = acc.OptOutKeywords, acc.OptInKeywords
	}
	for _, w := range outWords {
		if norm == w {
			return norm, true
		}
	}
	for _, w := range inWords {
		if norm == w {
			return norm, false
		}
	}
	return "", false
}

// optOut records an opt-out (or opt-in) on every partner with the customer's
// number and on the conversation, and confirms it once: a second STOP changes
// nothing and gets no second answer. The sender sends nothing more to an opted-out
// partner but these replies (their kind starts with "reply").
func (p *Processor) optOut(ctx context.Context, tx pgx.Tx, r inboundRow, word string, out bool) ([]odoo.Note, error) {
	now := p.Now().UTC()
	// The date says when the customer opted out; opting in again clears it.
	partnerSQL := `UPDATE res_partner SET x_whatsapp_opt_out = $2, x_whatsapp_opt_out_date = CASE WHEN $2 THEN $3::timestamp END
		WHERE id = ANY($1) AND x_whatsapp_opt_out IS DISTINCT FROM $2 AND ($2 OR x_whatsapp_opt_out)
		RETURNING id, COALESCE(name, '')`
	convSQL := `UPDATE whatsapp_conversation SET opt_out = $2, opt_out_date = CASE WHEN $2 THEN $3::timestamp END
		WHERE id = $1 AND opt_out IS DISTINCT FROM $2 AND ($2 OR opt_out)`
	replyKey, noteKey := "reply_opt_out", "note_opt_out"
	if !out {
		replyKey, noteKey = "reply_opt_in", "note_opt_in"
	}
	rows, err := tx.Query(ctx, partnerSQL, actions.PartnerIDs(r.conv.partners), out, now)
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", word, err)
	}
	type changed struct {
		ID   int
		Name string
	}
	partners, err := pgx.CollectRows(rows, pgx.RowToStructByPos[changed])
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", word, err)
	}
	tag, err := tx.Exec(ctx, convSQL, r.conv.id, out, now)
	if err != nil {
		return nil, fmt.Errorf("record %s on the conversation: %w", word, err)
	}
	if len(partners) == 0 && tag.RowsAffected() == 0 {
		return nil, nil
	}
	p.Logger.Info("customer opt-out changed", "opt_out", out, "keyword", word, "partners", len(partners))
	var notes []odoo.Note
	for _, pt := range partners {
		notes = append(notes, odoo.Note{Model: "res.partner", ResID: pt.ID, RecordName: pt.Name,
			BodyHTML: "<p>" + odoo.EscapeHTML(customerText(r.acc, noteKey, texts.Vars{"phone": r.num.E164, "keyword": word})) + "</p>"})
	}
	if r.acc == nil {
		return notes, nil
	}
	reply := outbox.Message{
		Message: notify.Message{ConfigID: r.acc.ConfigID, Phone: r.num.E164, ContactName: r.conv.name(r.profile),
			Content: r.acc.Text(replyKey, nil), Kind: replyKey, ResModel: "whatsapp.conversation", ResID: r.conv.id},
		ConversationID: r.conv.id, DedupKey: "in:" + r.msg.ID,
	}
	if r.conv.partner != nil {
		reply.ContactID = r.conv.partner.ID
	}
	_, err = outbox.Enqueue(ctx, tx, reply)
	return notes, err
}

// downloaded is an inbound media file, to store as an ir_attachment.
type downloaded struct {
	data     []byte
	mimeType string
	name     string
}

// download fetches a message's media through the account's client (Meta keeps it 7
// days). A failure worth retrying (Meta or the network not answering) is an error,
// the message is then processed again, up to 3 times; any other failure is kept as
// the row's error message and the message is recorded without its file.
func (p *Processor) download(ctx context.Context, acc *accounts.Account, m Message, attempt int) (*downloaded, string, error) {
	media := m.Media()
	if media == nil || media.ID == "" || p.SkipMedia {
		return nil, "", nil
	}
	if acc == nil || acc.Client == nil {
		return nil, "media not downloaded: no WhatsApp configuration with an access token for this number", nil
	}
	info, err := acc.Client.MediaInfo(ctx, media.ID)
	var data []byte
	var ctype string
	if err == nil {
		data, ctype, err = acc.Client.DownloadMedia(ctx, info.URL)
	}
	if err != nil {
		switch whatsapp.Classify(err) {
		case whatsapp.ClassRetryable, whatsapp.ClassOutcomeUnknown:
			if attempt < 3 && ctx.Err() == nil {
				return nil, "", fmt.Errorf("download media %s: %w", media.ID, err)
			}
		}
		p.Logger.Warn("inbound media not downloaded", "media", media.ID, "type", m.Type, "err", err)
		return nil, "media not downloaded: " + err.Error(), nil
	}
	mimeType := media.MimeType
	if mimeType == "" {
		mimeType = info.MimeType
	}
	if mimeType == "" {
		mimeType = ctype
	}
	if mt, _, err := mime.ParseMediaType(mimeType); err == nil {
		mimeType = mt
	}
	name := media.Filename
	if name == "" {
		name = fmt.Sprintf("whatsapp-%s-%s%s", m.Type, digits(m.Timestamp), extension(mimeType))
	}
	return &downloaded{data: data, mimeType: mimeType, name: name}, "", nil
}

var extensions = map[string]string{
	"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "video/mp4": ".mp4", "video/3gpp": ".3gp",
	"audio/ogg": ".ogg", "audio/mpeg": ".mp3", "audio/aac": ".aac", "audio/amr": ".amr", "audio/mp4": ".m4a",
	"application/pdf": ".pdf", "text/plain": ".txt",
}

func extension(mimeType string) string {
	if ext, ok := extensions[mimeType]; ok {
		return ext
	}
	if exts, _ := mime.ExtensionsByType(mimeType); len(exts) > 0 {
		return exts[0]
	}
	return ""
}

// attach stores the file as Odoo stores a binary attachment in the database
// (db_datas; Odoo reads it when store_fname is empty, whatever its storage
// setting), linked to the message both ways.
func (d *downloaded) attach(ctx context.Context, tx pgx.Tx, messageID int, acc *accounts.Account) error {
	a := odoo.NewAttachment{Name: d.name, Data: d.data, MimeType: d.mimeType, ResModel: "whatsapp.message", ResID: messageID}
	if acc != nil {
		a.CompanyID = acc.CompanyID
	}
	id, _, err := odoo.StoreAttachment(ctx, tx, a)
	if err != nil {
		return err
	}
	return outbox.LinkAttachment(ctx, tx, messageID, id)
}
