package whatsapp

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// MessageType is the "type" of an outbound message.
type MessageType string

// Message types the client sends.
// D: messages/send-messages ("Message types").
const (
	TypeText        MessageType = "text"
	TypeImage       MessageType = "image"
	TypeDocument    MessageType = "document"
	TypeAudio       MessageType = "audio"
	TypeVideo       MessageType = "video"
	TypeSticker     MessageType = "sticker"
	TypeTemplate    MessageType = "template"
	TypeInteractive MessageType = "interactive"
	TypeLocation    MessageType = "location"
	TypeContacts    MessageType = "contacts"
	TypeReaction    MessageType = "reaction"
)

// Interactive message types.
const (
	InteractiveButton = "button"
	InteractiveList   = "list"
	InteractiveCTAURL = "cta_url"
)

// Message is one outbound message. Set To, Type and the one payload field
// matching Type. Its JSON form is the body of POST /{phone-number-id}/messages
// minus the envelope fields that SendRequest adds.
type Message struct {
	// To is the recipient's phone number, E.164 with "+" (see package phone).
	To   string      `json:"to,omitempty"`
	Type MessageType `json:"type,omitempty"`
	// BizOpaqueCallbackData is echoed back by Meta in the status webhooks of
	// this message (D: messages/send-messages). At most 512 characters.
	BizOpaqueCallbackData string `json:"biz_opaque_callback_data,omitempty"`
	// ReplyTo, when set, is the wamid this message replies to; it is sent as
	// context.message_id (D: messages/contextual-replies).
	ReplyTo string `json:"-"`

	Text        *Text        `json:"text,omitempty"`
	Image       *Media       `json:"image,omitempty"`
	Document    *Media       `json:"document,omitempty"`
	Audio       *Media       `json:"audio,omitempty"`
	Video       *Media       `json:"video,omitempty"`
	Sticker     *Media       `json:"sticker,omitempty"`
	Template    *Template    `json:"template,omitempty"`
	Interactive *Interactive `json:"interactive,omitempty"`
	Location    *Location    `json:"location,omitempty"`
	Contacts    []Contact    `json:"contacts,omitempty"`
	Reaction    *Reaction    `json:"reaction,omitempty"`
}

// SendRequest is the JSON body of POST /{phone-number-id}/messages: a message,
// or a mark-as-read request when Status is "read". The emulator decodes
// requests into it.
type SendRequest struct {
	MessagingProduct string          `json:"messaging_product"`
	RecipientType    string          `json:"recipient_type,omitempty"`
	Context          *MessageContext `json:"context,omitempty"`
	// Status and MessageID make a mark-as-read request
	// (D: messages/mark-message-as-read).
	Status          string           `json:"status,omitempty"`
	MessageID       string           `json:"message_id,omitempty"`
	TypingIndicator *TypingIndicator `json:"typing_indicator,omitempty"`
	Message
}

// MessageContext makes a message a reply to another one.
type MessageContext struct {
	MessageID string `json:"message_id"`
}

// TypingIndicator is sent with a mark-as-read request to show "typing…".
type TypingIndicator struct {
	Type string `json:"type"`
}

// Text is a text message. D: messages/text-messages.
type Text struct {
	Body string `json:"body"`
	// PreviewURL renders a preview of the first URL in Body.
	PreviewURL bool `json:"preview_url,omitempty"`
}

// Media is an image, document, audio, video or sticker, by uploaded media ID
// (recommended) or by public link. D: messages/image-messages,
// messages/document-messages.
type Media struct {
	ID   string `json:"id,omitempty"`
	Link string `json:"link,omitempty"`
	// Caption is accepted for image, video and document only.
	Caption string `json:"caption,omitempty"`
	// Filename is accepted for document only.
	Filename string `json:"filename,omitempty"`
}

// Template is a template message. D: messages/template-messages.
type Template struct {
	Name       string              `json:"name"`
	Language   TemplateLanguage    `json:"language"`
	Components []TemplateComponent `json:"components,omitempty"`
}

// TemplateLanguage selects the template's translation, e.g. "fr" or "en_US".
type TemplateLanguage struct {
	Code   string `json:"code"`
	Policy string `json:"policy,omitempty"`
}

// Template component types and button sub-types.
const (
	ComponentHeader = "header"
	ComponentBody   = "body"
	ComponentButton = "button"

	ButtonQuickReply = "quick_reply"
	ButtonURL        = "url"
	ButtonCopyCode   = "copy_code"
	ButtonFlow       = "flow"
)

// TemplateComponent fills the parameters of one component of a template.
type TemplateComponent struct {
	Type string `json:"type"`
	// SubType and Index are for button components: the button kind and its
	// position ("0" to "9") in the template.
	SubType    string              `json:"sub_type,omitempty"`
	Index      string              `json:"index,omitempty"`
	Parameters []TemplateParameter `json:"parameters,omitempty"`
}

// TemplateParameter is one parameter value. Type is text, currency,
// date_time, image, document, video, location, payload or coupon_code.
type TemplateParameter struct {
	Type string `json:"type"`
	// ParameterName is set for templates with named parameters ({{name}}).
	ParameterName string    `json:"parameter_name,omitempty"`
	Text          string    `json:"text,omitempty"`
	Payload       string    `json:"payload,omitempty"`
	CouponCode    string    `json:"coupon_code,omitempty"`
	Currency      *Currency `json:"currency,omitempty"`
	DateTime      *DateTime `json:"date_time,omitempty"`
	Image         *Media    `json:"image,omitempty"`
	Document      *Media    `json:"document,omitempty"`
	Video         *Media    `json:"video,omitempty"`
	Location      *Location `json:"location,omitempty"`
}

// Currency is a currency parameter; Amount1000 is the amount times 1000.
type Currency struct {
	FallbackValue string `json:"fallback_value"`
	Code          string `json:"code"`
	Amount1000    int64  `json:"amount_1000"`
}

// DateTime is a date_time parameter.
type DateTime struct {
	FallbackValue string `json:"fallback_value"`
}

// Interactive is an interactive reply-buttons, list or CTA URL message.
// D: messages/interactive-reply-buttons-messages,
// messages/interactive-list-messages, messages/interactive-cta-url-messages.
type Interactive struct {
	Type   string             `json:"type"`
	Header *InteractiveHeader `json:"header,omitempty"`
	Body   *InteractiveText   `json:"body,omitempty"`
	Footer *InteractiveText   `json:"footer,omitempty"`
	Action InteractiveAction  `json:"action"`
}

// InteractiveHeader is a text, image, video or document header.
type InteractiveHeader struct {
	Type     string `json:"type"`
	Text     string `json:"text,omitempty"`
	Image    *Media `json:"image,omitempty"`
	Video    *Media `json:"video,omitempty"`
	Document *Media `json:"document,omitempty"`
}

// InteractiveText is a body or footer.
type InteractiveText struct {
	Text string `json:"text"`
}

// InteractiveAction holds the buttons (button), the list button and
// sections (list), or the URL button (cta_url).
type InteractiveAction struct {
	Buttons    []Button          `json:"buttons,omitempty"`
	Button     string            `json:"button,omitempty"`
	Sections   []Section         `json:"sections,omitempty"`
	Name       string            `json:"name,omitempty"`
	Parameters *CTAURLParameters `json:"parameters,omitempty"`
}

// Button is one reply button; Type is "reply".
type Button struct {
	Type  string      `json:"type"`
	Reply ButtonReply `json:"reply"`
}

// ButtonReply is the id (returned in the webhook on tap) and title of a
// reply button.
type ButtonReply struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// Section is one section of a list message.
type Section struct {
	Title string `json:"title,omitempty"`
	Rows  []Row  `json:"rows"`
}

// Row is one row of a list section.
type Row struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// CTAURLParameters is the URL button of a cta_url message.
type CTAURLParameters struct {
	DisplayText string `json:"display_text"`
	URL         string `json:"url"`
}

// Location is a location message, also used for inbound locations (where
// Meta sends numbers) and template location headers.
type Location struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Name      string  `json:"name,omitempty"`
	Address   string  `json:"address,omitempty"`
	URL       string  `json:"url,omitempty"`
}

// Reaction reacts to a message; an empty Emoji removes the reaction.
// D: messages/reaction-messages.
type Reaction struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji"`
}

// Contact is a contact card, the same object in outbound contacts messages
// and inbound contacts webhooks. D: messages/contacts-messages.
type Contact struct {
	Name      ContactName      `json:"name"`
	Phones    []ContactPhone   `json:"phones,omitempty"`
	Emails    []ContactEmail   `json:"emails,omitempty"`
	Org       *ContactOrg      `json:"org,omitempty"`
	Addresses []ContactAddress `json:"addresses,omitempty"`
	URLs      []ContactURL     `json:"urls,omitempty"`
	Birthday  string           `json:"birthday,omitempty"`
}

// ContactName is a contact's name; FormattedName is required.
type ContactName struct {
	FormattedName string `json:"formatted_name"`
	FirstName     string `json:"first_name,omitempty"`
	LastName      string `json:"last_name,omitempty"`
	MiddleName    string `json:"middle_name,omitempty"`
	Suffix        string `json:"suffix,omitempty"`
	Prefix        string `json:"prefix,omitempty"`
}

// ContactPhone is a contact's phone number.
type ContactPhone struct {
	Phone string `json:"phone,omitempty"`
	Type  string `json:"type,omitempty"`
	WaID  string `json:"wa_id,omitempty"`
}

// ContactEmail is a contact's email address.
type ContactEmail struct {
	Email string `json:"email,omitempty"`
	Type  string `json:"type,omitempty"`
}

// ContactOrg is a contact's organisation.
type ContactOrg struct {
	Company    string `json:"company,omitempty"`
	Department string `json:"department,omitempty"`
	Title      string `json:"title,omitempty"`
}

// ContactAddress is a contact's postal address.
type ContactAddress struct {
	Street      string `json:"street,omitempty"`
	City        string `json:"city,omitempty"`
	State       string `json:"state,omitempty"`
	Zip         string `json:"zip,omitempty"`
	Country     string `json:"country,omitempty"`
	CountryCode string `json:"country_code,omitempty"`
	Type        string `json:"type,omitempty"`
}

// ContactURL is a contact's web address.
type ContactURL struct {
	URL  string `json:"url,omitempty"`
	Type string `json:"type,omitempty"`
}

// TextMessage returns a text message.
func TextMessage(to, body string) Message {
	return Message{To: to, Type: TypeText, Text: &Text{Body: body}}
}

// ButtonsMessage returns an interactive message with reply buttons; buttons
// are given as id, title pairs.
func ButtonsMessage(to, body string, buttons ...ButtonReply) Message {
	bs := make([]Button, len(buttons))
	for i, b := range buttons {
		bs[i] = Button{Type: "reply", Reply: b}
	}
	return Message{To: to, Type: TypeInteractive, Interactive: &Interactive{
		Type:   InteractiveButton,
		Body:   &InteractiveText{Text: body},
		Action: InteractiveAction{Buttons: bs},
	}}
}

// ListMessage returns an interactive list message.
func ListMessage(to, body, button string, sections ...Section) Message {
	return Message{To: to, Type: TypeInteractive, Interactive: &Interactive{
		Type:   InteractiveList,
		Body:   &InteractiveText{Text: body},
		Action: InteractiveAction{Button: button, Sections: sections},
	}}
}

// CTAURLMessage returns an interactive message with one URL button.
func CTAURLMessage(to, body, displayText, url string) Message {
	return Message{To: to, Type: TypeInteractive, Interactive: &Interactive{
		Type: InteractiveCTAURL,
		Body: &InteractiveText{Text: body},
		Action: InteractiveAction{Name: "cta_url", Parameters: &CTAURLParameters{
			DisplayText: displayText, URL: url,
		}},
	}}
}

// DocumentByID returns a document message for an uploaded media ID.
func DocumentByID(to, mediaID, filename, caption string) Message {
	return Message{To: to, Type: TypeDocument, Document: &Media{ID: mediaID, Filename: filename, Caption: caption}}
}

// ImageByID returns an image message for an uploaded media ID.
func ImageByID(to, mediaID, caption string) Message {
	return Message{To: to, Type: TypeImage, Image: &Media{ID: mediaID, Caption: caption}}
}

// TemplateMessage returns a template message.
func TemplateMessage(to, name, language string, components ...TemplateComponent) Message {
	return Message{To: to, Type: TypeTemplate, Template: &Template{
		Name: name, Language: TemplateLanguage{Code: language}, Components: components,
	}}
}

// BodyParameters returns a body component with text parameters.
func BodyParameters(texts ...string) TemplateComponent {
	ps := make([]TemplateParameter, len(texts))
	for i, t := range texts {
		ps[i] = TemplateParameter{Type: "text", Text: t}
	}
	return TemplateComponent{Type: ComponentBody, Parameters: ps}
}

// UnmarshalJSON accepts coordinates as JSON numbers (inbound webhooks, the
// request examples) or as strings (older request examples, which Meta still
// accepts; D: messages/location-messages).
func (l *Location) UnmarshalJSON(b []byte) error {
	type plain Location
	var aux struct {
		plain
		Latitude  json.RawMessage `json:"latitude"`
		Longitude json.RawMessage `json:"longitude"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*l = Location(aux.plain)
	var err error
	if l.Latitude, err = parseCoordinate(aux.Latitude); err != nil {
		return fmt.Errorf("latitude: %w", err)
	}
	if l.Longitude, err = parseCoordinate(aux.Longitude); err != nil {
		return fmt.Errorf("longitude: %w", err)
	}
	return nil
}

func parseCoordinate(raw json.RawMessage) (float64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	return strconv.ParseFloat(strings.Trim(string(raw), `"`), 64)
}
