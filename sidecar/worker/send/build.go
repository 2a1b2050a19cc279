package send

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/accounts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/outbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/phone"
)

// outgoing is a row made ready to send.
type outgoing struct {
	msg      whatsapp.Message
	template bool
	content  string // the text, for rows queued as intents
	rowType  whatsapp.MessageType
	buttons  []notify.Button // the reply buttons sent, for rows queued as intents
	record   string          // the order or invoice name, for the chatter note
	summary  string          // what the chatter note says was sent
}

var bodyPlaceholder = regexp.MustCompile(`\{\{\s*([a-zA-Z0-9_]+)\s*\}\}`)

// build turns a row into a Cloud API message: it renders intent rows (Odoo's
// "send by WhatsApp" actions queue only the record and the kind), uploads the
// document, and uses the approved template mapped to the kind when the customer has
// not written in 24 hours.
func (s *Sender) build(ctx context.Context, p outbox.Claimed, acc *accounts.Account, to phone.Number, forceTemplate bool) (outgoing, error) {
	if err := s.render(ctx, &p, acc); err != nil {
		return outgoing{}, err
	}
	out := outgoing{content: p.Content, rowType: whatsapp.MessageType(p.Type), summary: p.Content}
	out.record = p.Params["order_name"]
	if out.record == "" {
		out.record = p.Params["invoice_name"]
	}
	useTemplate := forceTemplate || p.Type == "template"
	if !useTemplate && p.Kind != "" {
		if _, mapped := s.Accounts.Template(acc.ConfigID, p.Kind); mapped {
			open, err := s.windowOpen(ctx, acc, to.WaID)
			if err != nil {
				return outgoing{}, err
			}
			useTemplate = !open
		}
	}
	var msg whatsapp.Message
	switch {
	case useTemplate:
		m, err := s.template(ctx, p, acc, to)
		if err != nil {
			return outgoing{}, err
		}
		msg, out.template, out.rowType = m, true, whatsapp.TypeTemplate
	case p.Type == "" || p.Type == "text":
		if strings.TrimSpace(p.Content) == "" {
			return outgoing{}, fail("empty message: nothing to send")
		}
		msg = whatsapp.TextMessage(to.E164, p.Content)
		msg.Text.PreviewURL = strings.Contains(p.Content, "https://")
	case p.Type == "interactive":
		buttons := make([]whatsapp.ButtonReply, len(p.Buttons))
		for i, b := range p.Buttons {
			buttons[i] = whatsapp.ButtonReply{ID: b.ID, Title: b.Title}
		}
		msg = whatsapp.ButtonsMessage(to.E164, p.Content, buttons...)
		out.buttons = p.Buttons
	case p.Type == "document", p.Type == "image", p.Type == "video", p.Type == "audio", p.Type == "sticker":
		media, err := s.media(ctx, &p, acc)
		if err != nil {
			return outgoing{}, err
		}
		msg = whatsapp.Message{To: to.E164, Type: whatsapp.MessageType(p.Type)}
		switch p.Type {
		case "document":
			msg.Document = media
			out.summary = "📄 " + media.Filename + "\n" + p.Caption
		case "image":
			msg.Image = media
		case "video":
			msg.Video = media
		case "audio":
			msg.Audio = media
		case "sticker":
			msg.Sticker = media
		}
	default:
		return outgoing{}, fail("message type %q cannot be sent from a queued row (text, interactive, document, image, video, audio, sticker, template)", p.Type)
	}
	msg.BizOpaqueCallbackData = outbox.CallbackData(p.ID)
	msg.ReplyTo = p.ReplyTo
	if err := msg.Validate(); err != nil {
		return outgoing{}, fail("message not valid for WhatsApp: %v", err)
	}
	out.msg = msg
	return out, nil
}

// windowOpen says whether the customer wrote in the last 24 hours (Meta's customer
// service window), from the conversation the webhook keeps.
func (s *Sender) windowOpen(ctx context.Context, acc *accounts.Account, waID string) (bool, error) {
	var open bool
	err := s.Pool.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM whatsapp_conversation
		    WHERE wa_id = $1 AND COALESCE(config_id, 0) IN ($2, 0)
		      AND last_inbound_at > (now() AT TIME ZONE 'utc') - interval '24 hours')`, waID, acc.ConfigID).Scan(&open)
	if err != nil {
		return false, fmt.Errorf("read the customer's 24-hour window: %w", err)
	}
	return open, nil
}

// render fills an intent row (no content yet) from its record.
func (s *Sender) render(ctx context.Context, p *outbox.Claimed, acc *accounts.Account) error {
	if strings.TrimSpace(p.Content) != "" || p.Kind == "" {
		return nil
	}
	var m notify.Message
	switch {
	case p.ResModel == "sale.order" && (p.Kind == notify.KindOrderSummary || p.Kind == notify.KindOrderCreated ||
		p.Kind == notify.KindOrderDetails || p.Kind == notify.KindOrderConfirmed || p.Kind == notify.KindOrderCancelled):
		o, found, err := odoo.GetOrder(ctx, s.Pool, p.ResID)
		if err != nil {
			return err
		}
		if !found {
			return fail("order %d does not exist", p.ResID)
		}
		switch p.Kind {
		case notify.KindOrderDetails:
			lines, err := odoo.OrderLines(ctx, s.Pool, o.ID)
			if err != nil {
				return err
			}
			m = notify.OrderDetails(acc.Settings, o, lines)
		case notify.KindOrderConfirmed, notify.KindOrderCancelled:
			m = notify.OrderState(acc.Settings, o, p.Kind)
		case notify.KindOrderSummary:
			m = notify.OrderSummary(acc.Settings, o)
		default:
			m = notify.OrderCreated(acc.Settings, o, p.Kind)
		}
	case p.ResModel == "account.move":
		inv, found, err := odoo.GetInvoice(ctx, s.Pool, p.ResID)
		if err != nil {
			return err
		}
		if !found {
			return fail("invoice %d does not exist", p.ResID)
		}
		switch p.Kind {
		case notify.KindInvoicePDF, notify.KindInvoicePosted:
			m = notify.InvoiceDocument(acc.Settings, inv, p.Kind, s.Now())
		case notify.KindInvoiceReminder:
			m = notify.InvoiceReminder(acc.Settings, inv, s.Now())
		case notify.KindInvoiceButtons:
			m = notify.InvoiceButtons(acc.Settings, inv, s.Now())
		default:
			return nil
		}
	case p.ResModel == "whatsapp.interactive.scenario" || p.Kind == "scenario":
		return s.renderScenario(ctx, p)
	default:
		return nil
	}
	p.Type, p.Content, p.Caption, p.Buttons, p.Params = m.Type, m.Content, m.Caption, m.Buttons, m.Params
	if p.Type == "" {
		p.Type = "text"
	}
	return nil
}

// renderScenario is a scenario's first message: its text and up to three buttons.
func (s *Sender) renderScenario(ctx context.Context, p *outbox.Claimed) error {
	var text string
	var ids, titles [3]*string
	err := s.Pool.QueryRow(ctx, `
		SELECT initial_message, button_1_id, button_1_title, button_2_id, button_2_title, button_3_id, button_3_title
		FROM whatsapp_interactive_scenario WHERE id = $1`, p.ResID).
		Scan(&text, &ids[0], &titles[0], &ids[1], &titles[1], &ids[2], &titles[2])
	if errors.Is(err, pgx.ErrNoRows) {
		return fail("scenario %d does not exist", p.ResID)
	}
	if err != nil {
		return fmt.Errorf("read scenario %d: %w", p.ResID, err)
	}
	p.Content, p.Type, p.Buttons = text, "text", nil
	for i := range ids {
		if ids[i] != nil && *ids[i] != "" && titles[i] != nil && *titles[i] != "" {
			p.Buttons = append(p.Buttons, notify.Button{ID: *ids[i], Title: *titles[i]})
		}
	}
	if len(p.Buttons) > 0 {
		p.Type = "interactive"
	}
	return nil
}

// media returns the uploaded media of a row: its media id, its link, or the file
// uploaded now (an attachment, or the invoice PDF), remembering the media id on
// the row so a retry does not upload again (Meta keeps uploads 30 days).
func (s *Sender) media(ctx context.Context, p *outbox.Claimed, acc *accounts.Account) (*whatsapp.Media, error) {
	caption := p.Caption
	if p.Type == "audio" || p.Type == "sticker" {
		caption = ""
	}
	filename := ""
	if p.Type == "document" {
		filename = p.Params["filename"]
	}
	if p.MediaID != "" {
		return &whatsapp.Media{ID: p.MediaID, Caption: caption, Filename: filename}, nil
	}
	if p.MediaURL != "" {
		return &whatsapp.Media{Link: p.MediaURL, Caption: caption, Filename: filename}, nil
	}
	var data []byte
	mime := p.MimeType
	switch {
	case p.AttachmentID != 0:
		// Only the message's record's attachment, or one made for the message.
		a, err := odoo.ReadAttachment(ctx, s.Pool, s.DataDir, p.AttachmentID,
			odoo.Record{Model: p.ResModel, ID: p.ResID}, odoo.Record{Model: "whatsapp.message", ID: p.ID})
		if err != nil {
			return nil, fail("%v", err)
		}
		data, filename, mime = a.Data, a.Name, a.MimeType
	case p.ResModel == "account.move" && p.ResID != 0 && s.PDFs != nil:
		pdf, err := s.PDFs.Invoice(ctx, s.Pool, p.ResID)
		if err != nil {
			return nil, err
		}
		data, filename, mime = pdf.Data, pdf.Filename, "application/pdf"
	default:
		return nil, fail("a %s message needs media_id, media_url or attachment_id", p.Type)
	}
	id, err := acc.Client.UploadMedia(ctx, acc.PhoneNumberID, filename, mime, bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("upload %s: %w", filename, err)
	}
	if err := outbox.SetMedia(ctx, s.Pool, p.ID, id, mime); err != nil {
		s.Logger.Warn("remembering an uploaded media id (a retry uploads it again)", "message", p.ID, "err", err)
	}
	p.MediaID = id
	return &whatsapp.Media{ID: id, Caption: caption, Filename: filename}, nil
}

// template builds the template message of a row: the row's own components when it
// has them, else the body parameters of its kind (the whole text when the template
// takes a single parameter), and the invoice PDF as a document header when the
// template has one.
func (s *Sender) template(ctx context.Context, p outbox.Claimed, acc *accounts.Account, to phone.Number) (whatsapp.Message, error) {
	name, lang := p.TemplateName, p.TemplateLanguage
	var components, format string
	if name == "" {
		tpl, ok := s.Accounts.Template(acc.ConfigID, p.Kind)
		if !ok {
			return whatsapp.Message{}, fail("no approved template is mapped to %q (whatsapp_template.notification_kind)", p.Kind)
		}
		name, lang, components, format = tpl.Name, tpl.Language, tpl.Components, tpl.Format
	} else {
		err := s.Pool.QueryRow(ctx, `
			SELECT COALESCE(components, ''), COALESCE(parameter_format, 'POSITIONAL') FROM whatsapp_template
			WHERE wa_name = $1 AND COALESCE(language_code, '') IN ($2, '') ORDER BY (config_id = $3) DESC NULLS LAST LIMIT 1`,
			name, lang, acc.ConfigID).Scan(&components, &format)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			// Sent without its parameters, Meta would refuse it or show it wrong.
			return whatsapp.Message{}, fmt.Errorf("read template %s: %w", name, err)
		}
	}
	if lang == "" {
		lang = string(acc.Lang)
	}
	if p.TemplateComponents != "" {
		var comps []whatsapp.TemplateComponent
		if err := json.Unmarshal([]byte(p.TemplateComponents), &comps); err != nil {
			return whatsapp.Message{}, fail("template_components is not Meta's components JSON: %v", err)
		}
		return whatsapp.TemplateMessage(to.E164, name, lang, comps...), nil
	}
	var defs []struct {
		Type   string `json:"type"`
		Format string `json:"format"`
		Text   string `json:"text"`
	}
	if components != "" {
		if err := json.Unmarshal([]byte(components), &defs); err != nil {
			return whatsapp.Message{}, fail("template %s: its components in whatsapp_template are not Meta's JSON (sync the templates again): %v", name, err)
		}
	}
	var comps []whatsapp.TemplateComponent
	for _, d := range defs {
		switch strings.ToUpper(d.Type) {
		case "HEADER":
			if strings.ToUpper(d.Format) == "DOCUMENT" {
				media, err := s.media(ctx, &p, acc)
				if err != nil {
					return whatsapp.Message{}, err
				}
				comps = append(comps, whatsapp.TemplateComponent{Type: whatsapp.ComponentHeader,
					Parameters: []whatsapp.TemplateParameter{{Type: "document", Document: &whatsapp.Media{ID: media.ID, Filename: media.Filename}}}})
			}
		case "BODY":
			if body := s.bodyParameters(p, d.Text, format); len(body) > 0 {
				comps = append(comps, whatsapp.TemplateComponent{Type: whatsapp.ComponentBody, Parameters: body})
			}
		}
	}
	return whatsapp.TemplateMessage(to.E164, name, lang, comps...), nil
}

func (s *Sender) bodyParameters(p outbox.Claimed, body, format string) []whatsapp.TemplateParameter {
	found := bodyPlaceholder.FindAllStringSubmatch(body, -1)
	if len(found) == 0 {
		return nil
	}
	value := func(v string) string {
		if strings.TrimSpace(v) == "" {
			return "-" // Meta refuses empty parameters
		}
		return v
	}
	if strings.ToUpper(format) == "NAMED" {
		var params []whatsapp.TemplateParameter
		for _, f := range found {
			params = append(params, whatsapp.TemplateParameter{Type: "text", ParameterName: f[1], Text: value(p.Params[f[1]])})
		}
		return params
	}
	if len(found) == 1 {
		return []whatsapp.TemplateParameter{{Type: "text", Text: value(p.Content)}}
	}
	order := notify.TemplateParams[p.Kind]
	params := make([]whatsapp.TemplateParameter, len(found))
	for i := range found {
		v := ""
		if n, err := strconv.Atoi(found[i][1]); err == nil && n-1 < len(order) && n > 0 {
			v = p.Params[order[n-1]]
		}
		params[i] = whatsapp.TemplateParameter{Type: "text", Text: value(v)}
	}
	return params
}

// backoff is exponential with jitter, from 5 s to 30 min.
func backoff(attempt int) time.Duration {
	d := 5 * time.Second * time.Duration(math.Pow(2, float64(min(attempt-1, 9))))
	d = min(d, 30*time.Minute)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}
