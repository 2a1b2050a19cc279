package sandbox

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
)

// messageView is a message as the page draws it: what the customer's phone
// shows, plus what the sandbox knows (the record it is about, the delivery
// status, Meta's error).
type messageView struct {
	ID   string `json:"id"`
	WaID string `json:"wa_id"`
	// Direction is "out" (the business wrote) or "in" (the customer did).
	Direction string    `json:"direction"`
	Type      string    `json:"type"`
	Time      time.Time `json:"time"`
	// Status of an outbound message: accepted, sent, delivered, read, failed.
	Status    string `json:"status"`
	ErrorCode int    `json:"error_code,omitempty"`
	ErrorText string `json:"error_text,omitempty"`

	Header string `json:"header,omitempty"`
	Text   string `json:"text,omitempty"`
	Footer string `json:"footer,omitempty"`
	// ListLabel is the button that opens a list message's rows.
	ListLabel string       `json:"list_label,omitempty"`
	Buttons   []buttonView `json:"buttons,omitempty"`
	Media     *mediaView   `json:"media,omitempty"`
	Template  *templateRef `json:"template,omitempty"`
	// Reply is the button or row the customer tapped (inbound).
	Reply *buttonView `json:"reply,omitempty"`
	// ContextID is the message replied to.
	ContextID string `json:"context_id,omitempty"`

	// Business is the name of the sending account (whatsapp_config.name).
	Business string `json:"business,omitempty"`
	// Contact is the customer's name in Odoo, when the row says.
	Contact string `json:"contact,omitempty"`
	// Record is the order or invoice the message is about.
	Record *recordRef `json:"record,omitempty"`

	rowID     int // the whatsapp_message row (biz_opaque_callback_data), 0 if unknown
	partnerID int // the customer in Odoo, from the row
}

// buttonView is a tappable choice. Kind is "reply" (interactive reply button),
// "row" (list row), "quick_reply" (template button) or "url".
type buttonView struct {
	Kind        string `json:"kind"`
	ID          string `json:"id,omitempty"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	Payload     string `json:"payload,omitempty"`
	URL         string `json:"url,omitempty"`
}

// mediaView is an image, document, video, audio or sticker. URL is the page's
// own /media/ address for what the emulator stores, else the link the message
// gave (shown, never loaded by the page).
type mediaView struct {
	Kind     string `json:"kind"`
	URL      string `json:"url,omitempty"`
	Link     string `json:"link,omitempty"`
	Filename string `json:"filename,omitempty"`
	MimeType string `json:"mime_type,omitempty"`
	Size     int    `json:"size,omitempty"`
}

type templateRef struct {
	Name     string `json:"name"`
	Language string `json:"language"`
	// Known is false when the emulator's catalogue has no such template: the
	// page then lists the parameters as sent.
	Known bool `json:"known"`
}

// recordRef is an Odoo record: model ("sale.order") and id.
type recordRef struct {
	Model string `json:"model"`
	ID    int    `json:"id"`
}

// viewer turns the emulator's messages into views; media sizes and templates
// come from the emulator.
type viewer struct {
	emu *emulator.Server
}

func (v viewer) view(m emulator.ConversationMessage) messageView {
	mv := messageView{ID: m.ID, WaID: m.WaID, Direction: m.Direction, Type: m.Type, Time: m.Time, Status: m.Status, ErrorCode: m.ErrorCode}
	if m.ErrorCode != 0 {
		mv.ErrorText = whatsapp.CodeDescription(m.ErrorCode)
	}
	if m.Direction == "in" {
		var in whatsapp.InboundMessage
		if err := json.Unmarshal(m.Payload, &in); err != nil {
			mv.Text = "[" + m.Type + "]"
			return mv
		}
		v.inbound(&mv, in)
		return mv
	}
	var req whatsapp.SendRequest
	if err := json.Unmarshal(m.Payload, &req); err != nil {
		mv.Text = "[" + m.Type + "]"
		return mv
	}
	if req.Context != nil {
		mv.ContextID = req.Context.MessageID
	}
	mv.rowID = rowFromCallback(m.BizOpaqueCallbackData)
	v.outbound(&mv, req.Message)
	return mv
}

func (v viewer) outbound(mv *messageView, msg whatsapp.Message) {
	switch msg.Type {
	case whatsapp.TypeText:
		if msg.Text != nil {
			mv.Text = msg.Text.Body
		}
	case whatsapp.TypeInteractive:
		if msg.Interactive != nil {
			v.interactive(mv, msg.Interactive)
		}
	case whatsapp.TypeImage, whatsapp.TypeDocument, whatsapp.TypeVideo, whatsapp.TypeAudio, whatsapp.TypeSticker:
		media := map[whatsapp.MessageType]*whatsapp.Media{
			whatsapp.TypeImage: msg.Image, whatsapp.TypeDocument: msg.Document, whatsapp.TypeVideo: msg.Video,
			whatsapp.TypeAudio: msg.Audio, whatsapp.TypeSticker: msg.Sticker,
		}[msg.Type]
		if media != nil {
			mv.Media = v.media(string(msg.Type), media.ID, media.Link, media.Filename)
			mv.Text = media.Caption
		}
	case whatsapp.TypeTemplate:
		if msg.Template != nil {
			v.template(mv, msg.Template)
		}
	case whatsapp.TypeLocation:
		if msg.Location != nil {
			mv.Text = locationText(*msg.Location)
		}
	case whatsapp.TypeContacts:
		mv.Text = contactsText(msg.Contacts)
	case whatsapp.TypeReaction:
		if msg.Reaction != nil {
			mv.Text = msg.Reaction.Emoji
		}
	default:
		mv.Text = "[" + string(msg.Type) + "]"
	}
}

func (v viewer) interactive(mv *messageView, in *whatsapp.Interactive) {
	if h := in.Header; h != nil {
		switch {
		case h.Text != "":
			mv.Header = h.Text
		case h.Image != nil:
			mv.Media = v.media("image", h.Image.ID, h.Image.Link, "")
		case h.Document != nil:
			mv.Media = v.media("document", h.Document.ID, h.Document.Link, h.Document.Filename)
		case h.Video != nil:
			mv.Media = v.media("video", h.Video.ID, h.Video.Link, "")
		}
	}
	if in.Body != nil {
		mv.Text = in.Body.Text
	}
	if in.Footer != nil {
		mv.Footer = in.Footer.Text
	}
	a := in.Action
	switch in.Type {
	case whatsapp.InteractiveButton:
		for _, b := range a.Buttons {
			mv.Buttons = append(mv.Buttons, buttonView{Kind: "reply", ID: b.Reply.ID, Title: b.Reply.Title})
		}
	case whatsapp.InteractiveList:
		mv.ListLabel = a.Button
		for _, sec := range a.Sections {
			for _, r := range sec.Rows {
				mv.Buttons = append(mv.Buttons, buttonView{Kind: "row", ID: r.ID, Title: r.Title, Description: r.Description})
			}
		}
	case whatsapp.InteractiveCTAURL:
		if a.Parameters != nil {
			mv.Buttons = append(mv.Buttons, buttonView{Kind: "url", Title: a.Parameters.DisplayText, URL: a.Parameters.URL})
		}
	}
}

// media describes stored media by the page's own URL, or a link as given.
func (v viewer) media(kind, id, link, filename string) *mediaView {
	mv := &mediaView{Kind: kind, Filename: filename}
	if id == "" {
		mv.Link = link
		return mv
	}
	f, ok := v.emu.Media(id)
	if !ok {
		return mv // deleted, or never uploaded: the card says the file is gone
	}
	mv.MimeType, mv.Size = f.MimeType, len(f.Data)
	mv.URL = "/media/" + url.PathEscape(id)
	if filename != "" {
		mv.URL += "?name=" + url.QueryEscape(filename)
	}
	return mv
}

var templatePlaceholder = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_]+)\s*\}\}`)

// template renders a template message with its parameters, as the customer
// reads it, from the emulator's catalogue (the templates Meta approved).
func (v viewer) template(mv *messageView, t *whatsapp.Template) {
	mv.Template = &templateRef{Name: t.Name, Language: t.Language.Code}
	params := map[string][]whatsapp.TemplateParameter{}
	payloads := map[int]string{}
	for _, c := range t.Components {
		if c.Type == whatsapp.ComponentButton {
			if i, err := strconv.Atoi(c.Index); err == nil && len(c.Parameters) > 0 {
				payloads[i] = c.Parameters[0].Payload
			}
			continue
		}
		params[c.Type] = append(params[c.Type], c.Parameters...)
	}
	var info *whatsapp.TemplateInfo
	for _, ti := range v.emu.Templates() {
		if ti.Name == t.Name && ti.Language == t.Language.Code {
			info = &ti
			break
		}
	}
	if info == nil {
		var values []string
		for _, kind := range []string{whatsapp.ComponentHeader, whatsapp.ComponentBody} {
			for _, p := range params[kind] {
				values = append(values, paramText(p))
			}
		}
		mv.Text = strings.Join(values, " · ")
		return
	}
	mv.Template.Known = true
	for _, c := range info.Components {
		switch c.Type {
		case "HEADER":
			if c.Format == "" || c.Format == "TEXT" {
				mv.Header = fillTemplate(c.Text, params[whatsapp.ComponentHeader])
				continue
			}
			for _, p := range params[whatsapp.ComponentHeader] {
				kind := strings.ToLower(c.Format)
				if m := map[string]*whatsapp.Media{"image": p.Image, "document": p.Document, "video": p.Video}[kind]; m != nil {
					mv.Media = v.media(kind, m.ID, m.Link, m.Filename)
				}
			}
		case "BODY":
			mv.Text = fillTemplate(c.Text, params[whatsapp.ComponentBody])
		case "FOOTER":
			mv.Footer = c.Text
		case "BUTTONS":
			for i, b := range c.Buttons {
				switch b.Type {
				case "QUICK_REPLY":
					payload := payloads[i]
					if payload == "" {
						payload = b.Text
					}
					mv.Buttons = append(mv.Buttons, buttonView{Kind: "quick_reply", Title: b.Text, Payload: payload})
				case "URL":
					mv.Buttons = append(mv.Buttons, buttonView{Kind: "url", Title: b.Text, URL: b.URL})
				default:
					mv.Buttons = append(mv.Buttons, buttonView{Kind: "url", Title: b.Text})
				}
			}
		}
	}
}

// fillTemplate replaces {{1}} (positional) or {{name}} (named) placeholders.
func fillTemplate(text string, params []whatsapp.TemplateParameter) string {
	named := map[string]string{}
	for _, p := range params {
		if p.ParameterName != "" {
			named[p.ParameterName] = paramText(p)
		}
	}
	return templatePlaceholder.ReplaceAllStringFunc(text, func(m string) string {
		key := templatePlaceholder.FindStringSubmatch(m)[1]
		if v, ok := named[key]; ok {
			return v
		}
		if i, err := strconv.Atoi(key); err == nil && i >= 1 && i <= len(params) {
			return paramText(params[i-1])
		}
		return m
	})
}

func paramText(p whatsapp.TemplateParameter) string {
	switch {
	case p.Currency != nil:
		return p.Currency.FallbackValue
	case p.DateTime != nil:
		return p.DateTime.FallbackValue
	case p.Text != "":
		return p.Text
	case p.Payload != "":
		return p.Payload
	case p.CouponCode != "":
		return p.CouponCode
	}
	return "[" + p.Type + "]"
}

func (v viewer) inbound(mv *messageView, in whatsapp.InboundMessage) {
	if in.Context != nil {
		mv.ContextID = in.Context.ID
	}
	switch {
	case in.Text != nil:
		mv.Text = in.Text.Body
	case in.Interactive != nil && in.Interactive.ButtonReply != nil:
		b := in.Interactive.ButtonReply
		mv.Reply = &buttonView{Kind: "reply", ID: b.ID, Title: b.Title}
		mv.Text = b.Title
	case in.Interactive != nil && in.Interactive.ListReply != nil:
		r := in.Interactive.ListReply
		mv.Reply = &buttonView{Kind: "row", ID: r.ID, Title: r.Title, Description: r.Description}
		mv.Text = r.Title
	case in.Button != nil:
		mv.Reply = &buttonView{Kind: "quick_reply", Title: in.Button.Text, Payload: in.Button.Payload}
		mv.Text = in.Button.Text
	case in.Image != nil:
		mv.Media, mv.Text = v.media("image", in.Image.ID, "", ""), in.Image.Caption
	case in.Document != nil:
		mv.Media, mv.Text = v.media("document", in.Document.ID, "", in.Document.Filename), in.Document.Caption
	case in.Video != nil:
		mv.Media, mv.Text = v.media("video", in.Video.ID, "", ""), in.Video.Caption
	case in.Audio != nil:
		mv.Media = v.media("audio", in.Audio.ID, "", "")
	case in.Sticker != nil:
		mv.Media = v.media("sticker", in.Sticker.ID, "", "")
	case in.Location != nil:
		mv.Text = locationText(*in.Location)
	case len(in.Contacts) > 0:
		mv.Text = contactsText(in.Contacts)
	case in.Reaction != nil:
		mv.Text = in.Reaction.Emoji
		mv.ContextID = in.Reaction.MessageID
	default:
		mv.Text = "[" + in.Type + "]"
	}
}

func locationText(l whatsapp.Location) string {
	parts := []string{}
	for _, s := range []string{l.Name, l.Address} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	parts = append(parts, fmt.Sprintf("%.5f, %.5f", l.Latitude, l.Longitude))
	return strings.Join(parts, "\n")
}

func contactsText(cs []whatsapp.Contact) string {
	var lines []string
	for _, c := range cs {
		line := c.Name.FormattedName
		for _, p := range c.Phones {
			line += " " + p.Phone
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}
