package inbound

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
)

// ErrMalformed marks a delivery that can never be processed: not Meta's envelope.
// It is recorded as processed with its error, never retried.
var ErrMalformed = errors.New("malformed delivery")

// Delivery is one webhook POST: every entry's every change, in order.
type Delivery struct {
	Object  string
	Changes []Change
}

// Change is one change of one entry (one WhatsApp Business Account).
type Change struct {
	WABAID string
	Field  string
	// For field "messages":
	PhoneNumberID      string
	DisplayPhoneNumber string
	Contacts           []whatsapp.WebhookContact
	Messages           []Message
	Statuses           []whatsapp.Status
	Errors             []whatsapp.WebhookError
	// Skipped counts messages and statuses whose JSON could not be read.
	Skipped int
	// Value is the raw value, for fields other than messages.
	Value json.RawMessage
}

// Message is an inbound message with its raw JSON, kept as whatsapp_message.raw_payload.
type Message struct {
	whatsapp.InboundMessage
	Raw json.RawMessage
}

type rawEnvelope struct {
	Object string `json:"object"`
	Entry  []struct {
		ID      string `json:"id"`
		Changes []struct {
			Field string          `json:"field"`
			Value json.RawMessage `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

type rawValue struct {
	Metadata whatsapp.WebhookMetadata  `json:"metadata"`
	Contacts []whatsapp.WebhookContact `json:"contacts"`
	Messages []json.RawMessage         `json:"messages"`
	Statuses []json.RawMessage         `json:"statuses"`
	Errors   []whatsapp.WebhookError   `json:"errors"`
}

// Parse reads a delivery. A malformed envelope is ErrMalformed; a message or status
// that cannot be read is skipped and counted, so one odd item never blocks the rest
// of the batch.
func Parse(body []byte) (Delivery, error) {
	var env rawEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return Delivery{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if env.Object != "" && env.Object != "whatsapp_business_account" {
		return Delivery{}, fmt.Errorf("%w: object %q is not whatsapp_business_account", ErrMalformed, env.Object)
	}
	d := Delivery{Object: env.Object}
	for _, e := range env.Entry {
		for _, ch := range e.Changes {
			c := Change{WABAID: e.ID, Field: ch.Field, Value: ch.Value}
			if ch.Field == "messages" || ch.Field == "" {
				var v rawValue
				if err := json.Unmarshal(ch.Value, &v); err != nil {
					c.Skipped++
					d.Changes = append(d.Changes, c)
					continue
				}
				c.PhoneNumberID, c.DisplayPhoneNumber = v.Metadata.PhoneNumberID, v.Metadata.DisplayPhoneNumber
				c.Contacts, c.Errors = v.Contacts, v.Errors
				for _, raw := range v.Messages {
					var m whatsapp.InboundMessage
					if err := json.Unmarshal(raw, &m); err != nil || m.ID == "" || m.From == "" {
						c.Skipped++
						continue
					}
					c.Messages = append(c.Messages, Message{InboundMessage: m, Raw: raw})
				}
				for _, raw := range v.Statuses {
					var s whatsapp.Status
					if err := json.Unmarshal(raw, &s); err != nil || s.ID == "" || s.Status == "" {
						c.Skipped++
						continue
					}
					c.Statuses = append(c.Statuses, s)
				}
			}
			d.Changes = append(d.Changes, c)
		}
	}
	return d, nil
}

// Timestamp reads Meta's string of unix seconds; zero when unreadable.
func Timestamp(s string) time.Time {
	sec, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || sec <= 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

// ProfileName is the WhatsApp profile name of waID in a change's contacts.
func (c Change) ProfileName(waID string) string {
	for _, ct := range c.Contacts {
		if ct.WaID == waID {
			return ct.Profile.Name
		}
	}
	if len(c.Contacts) == 1 {
		return c.Contacts[0].Profile.Name
	}
	return ""
}

// Click is the button a message clicked, if it is a click: a reply button, a list
// row, or a template quick reply (whose payload is its id).
func (m Message) Click() (id, title string, ok bool) {
	switch {
	case m.Interactive != nil && m.Interactive.ButtonReply != nil:
		return m.Interactive.ButtonReply.ID, m.Interactive.ButtonReply.Title, m.Interactive.ButtonReply.ID != ""
	case m.Interactive != nil && m.Interactive.ListReply != nil:
		return m.Interactive.ListReply.ID, m.Interactive.ListReply.Title, m.Interactive.ListReply.ID != ""
	case m.Button != nil:
		id := m.Button.Payload
		if id == "" {
			id = m.Button.Text
		}
		return id, m.Button.Text, id != ""
	}
	return "", "", false
}

// Media is the message's media, nil for other types.
func (m Message) Media() *whatsapp.InboundMedia {
	switch {
	case m.Image != nil:
		return m.Image
	case m.Document != nil:
		return m.Document
	case m.Audio != nil:
		return m.Audio
	case m.Video != nil:
		return m.Video
	case m.Sticker != nil:
		return m.Sticker
	}
	return nil
}

// ContextID is the wamid the message answers: the message replied to (or clicked),
// or the one reacted to.
func (m Message) ContextID() string {
	if m.Context != nil && m.Context.ID != "" {
		return m.Context.ID
	}
	if m.Reaction != nil {
		return m.Reaction.MessageID
	}
	return ""
}

// Content is what Odoo users read of a message in whatsapp_message.content: the
// text itself, or a short description in the seed's style ("[Image] caption"). A
// click is the title the customer tapped, as they saw it: its id goes to
// whatsapp_message.button_id, and Odoo marks the row as a click in the user's own
// language (the seed wrote "[Bouton : btn_validate_order_26] Valider", a technical
// id in French whatever the user's language).
func (m Message) Content() string {
	var b strings.Builder
	switch m.Type {
	case whatsapp.InboundTypeText:
		if m.Text != nil {
			b.WriteString(m.Text.Body)
		}
	case whatsapp.InboundTypeImage, whatsapp.InboundTypeVideo, whatsapp.InboundTypeAudio,
		whatsapp.InboundTypeSticker, whatsapp.InboundTypeDocument:
		media := m.Media()
		label := map[string]string{"image": "Image", "video": "Vidéo", "audio": "Audio", "sticker": "Sticker", "document": "Document"}[m.Type]
		if m.Type == whatsapp.InboundTypeAudio && media != nil && media.Voice != nil && *media.Voice {
			label = "Message vocal"
		}
		b.WriteString("[" + label)
		if media != nil && media.Filename != "" {
			b.WriteString(" : " + media.Filename)
		}
		b.WriteString("]")
		if media != nil && media.Caption != "" {
			b.WriteString(" " + media.Caption)
		}
	case whatsapp.InboundTypeLocation:
		b.WriteString("[Position]")
		if l := m.Location; l != nil {
			for _, s := range []string{l.Name, l.Address} {
				if s != "" {
					b.WriteString(" " + s)
				}
			}
			fmt.Fprintf(&b, " (%s, %s)", strconv.FormatFloat(l.Latitude, 'f', -1, 64), strconv.FormatFloat(l.Longitude, 'f', -1, 64))
		}
	case whatsapp.InboundTypeContacts:
		b.WriteString("[Contact]")
		for i, c := range m.Contacts {
			if i > 0 {
				b.WriteString(" ;")
			}
			b.WriteString(" " + c.Name.FormattedName)
			for _, p := range c.Phones {
				b.WriteString(" " + p.Phone)
			}
		}
	case whatsapp.InboundTypeReaction:
		if m.Reaction != nil && m.Reaction.Emoji != "" {
			b.WriteString("[Réaction " + m.Reaction.Emoji + "]")
		} else {
			b.WriteString("[Réaction retirée]")
		}
	case whatsapp.InboundTypeInteractive, whatsapp.InboundTypeButton:
		id, title, ok := m.Click()
		if title == "" {
			title = id // a click always says something
		}
		switch {
		case ok && m.Interactive != nil && m.Interactive.ListReply != nil:
			b.WriteString(title)
			if d := m.Interactive.ListReply.Description; d != "" {
				b.WriteString(" — " + d)
			}
		case ok:
			b.WriteString(title)
		case m.Interactive != nil && m.Interactive.NFMReply != nil:
			b.WriteString("[Formulaire] " + m.Interactive.NFMReply.Body)
		default:
			b.WriteString("[Interactif]")
		}
	case whatsapp.InboundTypeOrder:
		b.WriteString("[Commande catalogue]")
		if m.Order != nil {
			fmt.Fprintf(&b, " %d article(s)", len(m.Order.ProductItems))
			if m.Order.Text != "" {
				b.WriteString(" " + m.Order.Text)
			}
		}
	case whatsapp.InboundTypeSystem:
		b.WriteString("[Système]")
		if m.System != nil {
			b.WriteString(" " + m.System.Body)
		}
	default:
		t := m.Type
		if m.Unsupported != nil && m.Unsupported.Type != "" {
			t = m.Unsupported.Type
		}
		b.WriteString("[Non pris en charge : " + t + "]")
	}
	for _, e := range m.Errors {
		fmt.Fprintf(&b, " (#%d %s)", e.Code, e.Title)
	}
	return strings.TrimSpace(b.String())
}

// ErrorOf is a message's first error (131051 unsupported, 131052 media too large).
func (m Message) ErrorOf() (code int, message string) {
	if len(m.Errors) == 0 {
		return 0, ""
	}
	return m.Errors[0].Code, describe(m.Errors[0])
}

// describe is Meta's error as Odoo users read it: "(#131047) Re-engagement message:
// details".
func describe(e whatsapp.WebhookError) string {
	title := e.Title
	if title == "" {
		title = e.Message
	}
	if title == "" {
		title = whatsapp.CodeDescription(e.Code)
	}
	s := fmt.Sprintf("(#%d) %s", e.Code, title)
	if e.ErrorData != nil && e.ErrorData.Details != "" && e.ErrorData.Details != title {
		s += ": " + e.ErrorData.Details
	}
	return s
}
