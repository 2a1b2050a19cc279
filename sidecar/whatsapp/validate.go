package whatsapp

import (
	"fmt"
	"net/url"
	"strconv"
	"unicode/utf8"
)

// Meta's limits, in characters (runes). Each constant names its page.
const (
	maxTextBody        = 4096 // D: messages/text-messages
	maxCaption         = 1024 // D: messages/image-messages ("Maximum 1024 characters")
	maxBizOpaque       = 512  // D: messages/send-messages (biz_opaque_callback_data)
	maxButtons         = 3    // D: messages/interactive-reply-buttons-messages
	maxButtonID        = 256  // D: messages/interactive-reply-buttons-messages
	maxButtonTitle     = 20   // D: messages/interactive-reply-buttons-messages
	maxButtonsBody     = 1024 // D: messages/interactive-reply-buttons-messages
	maxHeaderText      = 60   // D: messages/interactive-list-messages (header)
	maxFooterText      = 60   // D: messages/interactive-reply-buttons-messages (footer)
	maxListBody        = 4096 // D: messages/interactive-list-messages
	maxListButton      = 20   // D: messages/interactive-list-messages (action.button)
	maxListSections    = 10   // D: messages/interactive-list-messages
	maxListRows        = 10   // D: messages/interactive-list-messages (rows across sections)
	maxSectionTitle    = 24   // D: messages/interactive-list-messages
	maxRowID           = 200  // D: messages/interactive-list-messages
	maxRowTitle        = 24   // D: messages/interactive-list-messages
	maxRowDescription  = 72   // D: messages/interactive-list-messages
	maxCTABody         = 1024 // D: messages/interactive-cta-url-messages
	maxCTADisplayText  = 20   // D: messages/interactive-cta-url-messages
	maxTemplateName    = 512  // D: templates/template-management (name)
	maxTemplateButtons = 10   // D: templates/components (buttons index 0-9)
)

// ValidationError is returned by Message.Validate: Field is the JSON path of
// the offending field, e.g. "interactive.action.buttons[1].reply.title".
type ValidationError struct {
	Field   string
	Problem string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Problem }

func invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// checkLen checks that s has between min and max characters.
func checkLen(field, s string, minLen, maxLen int) error {
	n := utf8.RuneCountInString(s)
	if n < minLen {
		if n == 0 {
			return invalid(field, "required")
		}
		return invalid(field, "%d characters, min %d", n, minLen)
	}
	if n > maxLen {
		return invalid(field, "%d characters, max %d", n, maxLen)
	}
	return nil
}

func checkURL(field, s string) error {
	if s == "" {
		return invalid(field, "required")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return invalid(field, "not an http(s) URL")
	}
	return nil
}

// Validate checks m against Meta's documented rules for its type, so a bad
// message fails before it is sent. The error is a *ValidationError naming the
// field.
func (m *Message) Validate() error {
	if err := checkRecipient("to", m.To); err != nil {
		return err
	}
	if err := checkLen("biz_opaque_callback_data", m.BizOpaqueCallbackData, 0, maxBizOpaque); err != nil {
		return err
	}
	if m.ReplyTo != "" {
		if err := checkLen("context.message_id", m.ReplyTo, 1, 512); err != nil {
			return err
		}
	}
	if n := m.payloadCount(); n != 1 {
		if n == 0 {
			return invalid(string(m.Type), "required for type %q", m.Type)
		}
		return invalid("type", "%d payloads set, want only %q", n, m.Type)
	}
	switch m.Type {
	case TypeText:
		if m.Text == nil {
			return invalid("text", "required for type text")
		}
		return checkLen("text.body", m.Text.Body, 1, maxTextBody)
	case TypeImage:
		return validateMedia("image", m.Image, true, false)
	case TypeVideo:
		return validateMedia("video", m.Video, true, false)
	case TypeDocument:
		return validateMedia("document", m.Document, true, true)
	case TypeAudio:
		return validateMedia("audio", m.Audio, false, false)
	case TypeSticker:
		return validateMedia("sticker", m.Sticker, false, false)
	case TypeTemplate:
		return validateTemplate(m.Template)
	case TypeInteractive:
		return validateInteractive(m.Interactive)
	case TypeLocation:
		return validateLocation("location", m.Location)
	case TypeContacts:
		return validateContacts(m.Contacts)
	case TypeReaction:
		if m.Reaction == nil {
			return invalid("reaction", "required for type reaction")
		}
		if err := checkLen("reaction.message_id", m.Reaction.MessageID, 1, 512); err != nil {
			return err
		}
		// One emoji, possibly with modifiers and joiners; empty removes.
		return checkLen("reaction.emoji", m.Reaction.Emoji, 0, 10)
	case "":
		return invalid("type", "required")
	default:
		return invalid("type", "unsupported message type %q", m.Type)
	}
}

// payloadCount counts the payload fields that are set; the one matching Type
// must be the only one.
func (m *Message) payloadCount() int {
	n := 0
	for _, set := range [...]bool{
		m.Text != nil, m.Image != nil, m.Document != nil, m.Audio != nil, m.Video != nil,
		m.Sticker != nil, m.Template != nil, m.Interactive != nil, m.Location != nil,
		m.Contacts != nil, m.Reaction != nil,
	} {
		if set {
			n++
		}
	}
	return n
}

// checkRecipient accepts a phone number with "+", "-", "(", ")" and spaces,
// as Meta does (D: messages/send-messages, "Phone number formats"), and
// 7 to 15 digits (E.164 allows at most 15).
func checkRecipient(field, to string) error {
	if to == "" {
		return invalid(field, "required")
	}
	digits := 0
	for i, r := range to {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0, r == '-', r == '(', r == ')', r == ' ':
		default:
			return invalid(field, "%q is not a phone number", to)
		}
	}
	if digits < 7 || digits > 15 {
		return invalid(field, "%q has %d digits, want 7 to 15", to, digits)
	}
	return nil
}

func validateMedia(field string, m *Media, caption, filename bool) error {
	if m == nil {
		return invalid(field, "required for type %s", field)
	}
	switch {
	case m.ID == "" && m.Link == "":
		return invalid(field, "one of id or link is required")
	case m.ID != "" && m.Link != "":
		return invalid(field, "id and link are mutually exclusive")
	case m.Link != "":
		if err := checkURL(field+".link", m.Link); err != nil {
			return err
		}
	}
	if m.Caption != "" && !caption {
		return invalid(field+".caption", "not allowed for %s", field)
	}
	if err := checkLen(field+".caption", m.Caption, 0, maxCaption); err != nil {
		return err
	}
	if m.Filename != "" && !filename {
		return invalid(field+".filename", "not allowed for %s", field)
	}
	return checkLen(field+".filename", m.Filename, 0, 240)
}

func validateLocation(field string, l *Location) error {
	if l == nil {
		return invalid(field, "required")
	}
	if l.Latitude < -90 || l.Latitude > 90 {
		return invalid(field+".latitude", "%g out of range [-90, 90]", l.Latitude)
	}
	if l.Longitude < -180 || l.Longitude > 180 {
		return invalid(field+".longitude", "%g out of range [-180, 180]", l.Longitude)
	}
	return nil
}

func validateContacts(cs []Contact) error {
	if len(cs) == 0 {
		return invalid("contacts", "at least one contact required")
	}
	for i, c := range cs {
		if err := checkLen(fmt.Sprintf("contacts[%d].name.formatted_name", i), c.Name.FormattedName, 1, 512); err != nil {
			return err
		}
	}
	return nil
}

func validateTemplate(t *Template) error {
	if t == nil {
		return invalid("template", "required for type template")
	}
	if err := checkLen("template.name", t.Name, 1, maxTemplateName); err != nil {
		return err
	}
	if err := checkLen("template.language.code", t.Language.Code, 2, 15); err != nil {
		return err
	}
	seenIndex := map[string]bool{}
	for i, c := range t.Components {
		f := fmt.Sprintf("template.components[%d]", i)
		switch c.Type {
		case ComponentHeader, ComponentBody:
			if c.SubType != "" || c.Index != "" {
				return invalid(f+".sub_type", "only for button components")
			}
		case ComponentButton:
			switch c.SubType {
			case ButtonQuickReply, ButtonURL, ButtonCopyCode, ButtonFlow, "catalog", "mpm", "voice_call":
			case "":
				return invalid(f+".sub_type", "required for button components")
			default:
				return invalid(f+".sub_type", "unknown button sub_type %q", c.SubType)
			}
			idx, err := strconv.Atoi(c.Index)
			if err != nil || idx < 0 || idx >= maxTemplateButtons {
				return invalid(f+".index", "%q is not a button index 0-9", c.Index)
			}
			if seenIndex[c.Index] {
				return invalid(f+".index", "duplicate button index %s", c.Index)
			}
			seenIndex[c.Index] = true
		case "":
			return invalid(f+".type", "required")
		default:
			return invalid(f+".type", "unknown component type %q", c.Type)
		}
		for j, p := range c.Parameters {
			if err := validateParameter(fmt.Sprintf("%s.parameters[%d]", f, j), c, p); err != nil {
				return err
			}
		}
	}
	return nil
}

func validateParameter(f string, c TemplateComponent, p TemplateParameter) error {
	switch p.Type {
	case "text":
		// Body parameters may be long (the whole body is capped at 1024);
		// header text parameters are capped at 60 (D: templates/components).
		maxLen := 1024
		if c.Type == ComponentHeader {
			maxLen = maxHeaderText
		}
		return checkLen(f+".text", p.Text, 1, maxLen)
	case "payload":
		if c.Type != ComponentButton {
			return invalid(f+".type", "payload only in button components")
		}
		return checkLen(f+".payload", p.Payload, 1, 1000)
	case "coupon_code":
		return checkLen(f+".coupon_code", p.CouponCode, 1, 15)
	case "currency":
		if p.Currency == nil {
			return invalid(f+".currency", "required for type currency")
		}
		if err := checkLen(f+".currency.fallback_value", p.Currency.FallbackValue, 1, 1024); err != nil {
			return err
		}
		return checkLen(f+".currency.code", p.Currency.Code, 3, 3)
	case "date_time":
		if p.DateTime == nil {
			return invalid(f+".date_time", "required for type date_time")
		}
		return checkLen(f+".date_time.fallback_value", p.DateTime.FallbackValue, 1, 1024)
	case "image":
		return validateMedia(f+".image", p.Image, false, false)
	case "video":
		return validateMedia(f+".video", p.Video, false, false)
	case "document":
		return validateMedia(f+".document", p.Document, false, true)
	case "location":
		return validateLocation(f+".location", p.Location)
	case "action":
		return nil
	case "":
		return invalid(f+".type", "required")
	default:
		return invalid(f+".type", "unknown parameter type %q", p.Type)
	}
}

func validateInteractive(in *Interactive) error {
	if in == nil {
		return invalid("interactive", "required for type interactive")
	}
	maxBody := maxButtonsBody
	switch in.Type {
	case InteractiveButton:
	case InteractiveList:
		maxBody = maxListBody
	case InteractiveCTAURL:
		maxBody = maxCTABody
	case "":
		return invalid("interactive.type", "required")
	default:
		return invalid("interactive.type", "unsupported interactive type %q", in.Type)
	}
	if in.Body == nil {
		return invalid("interactive.body", "required")
	}
	if err := checkLen("interactive.body.text", in.Body.Text, 1, maxBody); err != nil {
		return err
	}
	if in.Footer != nil {
		if err := checkLen("interactive.footer.text", in.Footer.Text, 1, maxFooterText); err != nil {
			return err
		}
	}
	if in.Header != nil {
		if err := validateHeader(in.Type, in.Header); err != nil {
			return err
		}
	}
	switch in.Type {
	case InteractiveButton:
		return validateButtons(in.Action)
	case InteractiveList:
		return validateList(in.Action)
	default:
		return validateCTAURL(in.Action)
	}
}

func validateHeader(kind string, h *InteractiveHeader) error {
	switch h.Type {
	case "text":
		return checkLen("interactive.header.text", h.Text, 1, maxHeaderText)
	case "image", "video", "document":
		// List headers are text only (D: messages/interactive-list-messages).
		if kind == InteractiveList {
			return invalid("interactive.header.type", "list messages take a text header only")
		}
		m := map[string]*Media{"image": h.Image, "video": h.Video, "document": h.Document}[h.Type]
		return validateMedia("interactive.header."+h.Type, m, false, h.Type == "document")
	case "":
		return invalid("interactive.header.type", "required")
	default:
		return invalid("interactive.header.type", "unsupported header type %q", h.Type)
	}
}

func validateButtons(a InteractiveAction) error {
	if n := len(a.Buttons); n < 1 || n > maxButtons {
		return invalid("interactive.action.buttons", "%d buttons, want 1 to %d", n, maxButtons)
	}
	ids := make(map[string]bool, len(a.Buttons))
	titles := make(map[string]bool, len(a.Buttons))
	for i, b := range a.Buttons {
		f := fmt.Sprintf("interactive.action.buttons[%d]", i)
		if b.Type != "reply" {
			return invalid(f+".type", "%q, want \"reply\"", b.Type)
		}
		if err := checkLen(f+".reply.id", b.Reply.ID, 1, maxButtonID); err != nil {
			return err
		}
		if err := checkLen(f+".reply.title", b.Reply.Title, 1, maxButtonTitle); err != nil {
			return err
		}
		if ids[b.Reply.ID] {
			return invalid(f+".reply.id", "duplicate id %q", b.Reply.ID)
		}
		if titles[b.Reply.Title] {
			return invalid(f+".reply.title", "duplicate title %q", b.Reply.Title)
		}
		ids[b.Reply.ID], titles[b.Reply.Title] = true, true
	}
	return nil
}

func validateList(a InteractiveAction) error {
	if err := checkLen("interactive.action.button", a.Button, 1, maxListButton); err != nil {
		return err
	}
	if n := len(a.Sections); n < 1 || n > maxListSections {
		return invalid("interactive.action.sections", "%d sections, want 1 to %d", n, maxListSections)
	}
	rows := 0
	ids := map[string]bool{}
	for i, s := range a.Sections {
		f := fmt.Sprintf("interactive.action.sections[%d]", i)
		// A title is required when there is more than one section.
		minTitle := 0
		if len(a.Sections) > 1 {
			minTitle = 1
		}
		if err := checkLen(f+".title", s.Title, minTitle, maxSectionTitle); err != nil {
			return err
		}
		if len(s.Rows) == 0 {
			return invalid(f+".rows", "at least one row required")
		}
		for j, r := range s.Rows {
			rf := fmt.Sprintf("%s.rows[%d]", f, j)
			if err := checkLen(rf+".id", r.ID, 1, maxRowID); err != nil {
				return err
			}
			if ids[r.ID] {
				return invalid(rf+".id", "duplicate id %q", r.ID)
			}
			ids[r.ID] = true
			if err := checkLen(rf+".title", r.Title, 1, maxRowTitle); err != nil {
				return err
			}
			if err := checkLen(rf+".description", r.Description, 0, maxRowDescription); err != nil {
				return err
			}
		}
		rows += len(s.Rows)
	}
	if rows > maxListRows {
		return invalid("interactive.action.sections", "%d rows in all, max %d", rows, maxListRows)
	}
	return nil
}

func validateCTAURL(a InteractiveAction) error {
	if a.Name != "cta_url" {
		return invalid("interactive.action.name", "%q, want \"cta_url\"", a.Name)
	}
	if a.Parameters == nil {
		return invalid("interactive.action.parameters", "required")
	}
	if err := checkLen("interactive.action.parameters.display_text", a.Parameters.DisplayText, 1, maxCTADisplayText); err != nil {
		return err
	}
	return checkURL("interactive.action.parameters.url", a.Parameters.URL)
}
