package whatsapp

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

const to = "+221771234567"

func validMessages() map[string]Message {
	loc := &Location{Latitude: 14.6928, Longitude: -17.4467, Name: "Dakar"}
	return map[string]Message{
		"Text":         {To: to, Type: TypeText, Text: &Text{Body: "Bonjour", PreviewURL: true}},
		"TextReply":    {To: to, Type: TypeText, Text: &Text{Body: "Oui"}, ReplyTo: "wamid.X"},
		"ImageByID":    ImageByID(to, "1479537139650973", "Photo"),
		"ImageByLink":  {To: to, Type: TypeImage, Image: &Media{Link: "https://example.com/a.jpg"}},
		"DocumentByID": DocumentByID(to, "1376223850470843", "facture.pdf", "Votre facture"),
		"Audio":        {To: to, Type: TypeAudio, Audio: &Media{ID: "1"}},
		"Video":        {To: to, Type: TypeVideo, Video: &Media{Link: "https://example.com/v.mp4", Caption: "v"}},
		"Sticker":      {To: to, Type: TypeSticker, Sticker: &Media{ID: "2"}},
		"Template": TemplateMessage(to, "order_confirmation", "fr",
			TemplateComponent{Type: ComponentHeader, Parameters: []TemplateParameter{{Type: "document", Document: &Media{ID: "3", Filename: "f.pdf"}}}},
			BodyParameters("Awa", "S00042"),
			TemplateComponent{Type: ComponentButton, SubType: ButtonQuickReply, Index: "0", Parameters: []TemplateParameter{{Type: "payload", Payload: "STOP"}}},
			TemplateComponent{Type: ComponentButton, SubType: ButtonURL, Index: "1", Parameters: []TemplateParameter{{Type: "text", Text: "S00042"}}},
			TemplateComponent{Type: ComponentBody, Parameters: []TemplateParameter{
				{Type: "currency", Currency: &Currency{FallbackValue: "25 000 F CFA", Code: "XOF", Amount1000: 25_000_000}},
				{Type: "date_time", DateTime: &DateTime{FallbackValue: "25/11/2026"}}}}),
		"Buttons": ButtonsMessage(to, "Valider la commande ?",
			ButtonReply{ID: "btn_validate_order_42", Title: "Valider"},
			ButtonReply{ID: "btn_cancel_order_42", Title: "Annuler"},
			ButtonReply{ID: "btn_view_order_details_42", Title: "Voir détail"}),
		"List": ListMessage(to, "Choisissez", "Options",
			Section{Title: "Paiement", Rows: []Row{{ID: "wave", Title: "Wave", Description: "Mobile money"}, {ID: "om", Title: "Orange Money"}}}),
		"CTAURL":    CTAURLMessage(to, "Suivre la commande", "Suivre", "https://example.com/o/42"),
		"Location":  {To: to, Type: TypeLocation, Location: loc},
		"Contacts":  {To: to, Type: TypeContacts, Contacts: []Contact{{Name: ContactName{FormattedName: "Awa Diop"}, Phones: []ContactPhone{{Phone: to, WaID: "221771234567"}}}}},
		"Reaction":  {To: to, Type: TypeReaction, Reaction: &Reaction{MessageID: "wamid.X", Emoji: "👍"}},
		"Unreact":   {To: to, Type: TypeReaction, Reaction: &Reaction{MessageID: "wamid.X"}},
		"BizOpaque": {To: to, Type: TypeText, Text: &Text{Body: "x"}, BizOpaqueCallbackData: strings.Repeat("a", 512)},
	}
}

func TestValidateAccepts(t *testing.T) {
	t.Parallel()
	for name, m := range validMessages() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if err := m.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
		})
	}
}

func TestValidateRejects(t *testing.T) {
	t.Parallel()
	long := func(n int) string { return strings.Repeat("é", n) }
	buttons := func(titles ...string) Message {
		bs := make([]ButtonReply, len(titles))
		for i, title := range titles {
			bs[i] = ButtonReply{ID: "id" + string(rune('a'+i)), Title: title}
		}
		return ButtonsMessage(to, "body", bs...)
	}
	nextRow := 0
	rows := func(n int) []Row {
		rs := make([]Row, n)
		for i := range rs {
			nextRow++
			rs[i] = Row{ID: "r" + strings.Repeat("x", nextRow), Title: "t"}
		}
		return rs
	}
	tests := []struct {
		name  string
		msg   Message
		field string
		text  string
	}{
		{"NoRecipient", Message{Type: TypeText, Text: &Text{Body: "x"}}, "to", "required"},
		{"RecipientLetters", TextMessage("abc", "x"), "to", "not a phone number"},
		{"RecipientShort", TextMessage("+221 77", "x"), "to", "7 to 15"},
		{"NoType", Message{To: to, Text: &Text{Body: "x"}}, "type", "required"},
		{"PayloadMissing", Message{To: to, Type: TypeText}, "text", "required"},
		{"TwoPayloads", Message{To: to, Type: TypeText, Text: &Text{Body: "x"}, Image: &Media{ID: "1"}}, "type", "2 payloads"},
		{"UnknownType", Message{To: to, Type: "poll", Text: &Text{Body: "x"}}, "type", "unsupported"},
		{"EmptyText", TextMessage(to, ""), "text.body", "required"},
		{"TextTooLong", TextMessage(to, long(4097)), "text.body", "4097 characters, max 4096"},
		{"BizOpaqueTooLong", Message{To: to, Type: TypeText, Text: &Text{Body: "x"}, BizOpaqueCallbackData: long(513)}, "biz_opaque_callback_data", "max 512"},
		{"MediaNeither", Message{To: to, Type: TypeImage, Image: &Media{}}, "image", "one of id or link"},
		{"MediaBoth", Message{To: to, Type: TypeImage, Image: &Media{ID: "1", Link: "https://x/y"}}, "image", "mutually exclusive"},
		{"MediaBadLink", Message{To: to, Type: TypeDocument, Document: &Media{Link: "ftp://x/y"}}, "document.link", "http(s)"},
		{"CaptionTooLong", ImageByID(to, "1", long(1025)), "image.caption", "max 1024"},
		{"AudioCaption", Message{To: to, Type: TypeAudio, Audio: &Media{ID: "1", Caption: "c"}}, "audio.caption", "not allowed"},
		{"ImageFilename", Message{To: to, Type: TypeImage, Image: &Media{ID: "1", Filename: "a.jpg"}}, "image.filename", "not allowed"},
		{"ButtonTitleTooLong", buttons("Valider", "A title of 23 characters"), "interactive.action.buttons[1].reply.title", "24 characters, max 20"},
		{"FourButtons", buttons("a", "b", "c", "d"), "interactive.action.buttons", "4 buttons"},
		{"NoButtons", buttons(), "interactive.action.buttons", "0 buttons"},
		{"DuplicateTitle", buttons("Oui", "Oui"), "interactive.action.buttons[1].reply.title", "duplicate"},
		{"ButtonIDTooLong", ButtonsMessage(to, "b", ButtonReply{ID: long(257), Title: "t"}), "interactive.action.buttons[0].reply.id", "max 256"},
		{"ButtonsBodyTooLong", ButtonsMessage(to, long(1025), ButtonReply{ID: "a", Title: "t"}), "interactive.body.text", "max 1024"},
		{"FooterTooLong", func() Message {
			m := buttons("a")
			m.Interactive.Footer = &InteractiveText{Text: long(61)}
			return m
		}(), "interactive.footer.text", "max 60"},
		{"HeaderTooLong", func() Message {
			m := buttons("a")
			m.Interactive.Header = &InteractiveHeader{Type: "text", Text: long(61)}
			return m
		}(), "interactive.header.text", "max 60"},
		{"ListMediaHeader", func() Message {
			m := ListMessage(to, "b", "Options", Section{Rows: rows(1)})
			m.Interactive.Header = &InteractiveHeader{Type: "image", Image: &Media{ID: "1"}}
			return m
		}(), "interactive.header.type", "text header only"},
		{"ListTooManyRows", ListMessage(to, "b", "Options", Section{Title: "a", Rows: rows(6)}, Section{Title: "b", Rows: rows(5)}), "interactive.action.sections", "11 rows"},
		{"ListButtonTooLong", ListMessage(to, "b", long(21), Section{Rows: rows(1)}), "interactive.action.button", "max 20"},
		{"ListRowTitleTooLong", ListMessage(to, "b", "o", Section{Rows: []Row{{ID: "a", Title: long(25)}}}), "interactive.action.sections[0].rows[0].title", "max 24"},
		{"ListRowDescriptionTooLong", ListMessage(to, "b", "o", Section{Rows: []Row{{ID: "a", Title: "t", Description: long(73)}}}), "interactive.action.sections[0].rows[0].description", "max 72"},
		{"ListRowIDTooLong", ListMessage(to, "b", "o", Section{Rows: []Row{{ID: long(201), Title: "t"}}}), "interactive.action.sections[0].rows[0].id", "max 200"},
		{"ListSectionTitleMissing", ListMessage(to, "b", "o", Section{Rows: rows(1)}, Section{Title: "b", Rows: rows(1)}), "interactive.action.sections[0].title", "required"},
		{"ListSectionTitleTooLong", ListMessage(to, "b", "o", Section{Title: long(25), Rows: rows(1)}), "interactive.action.sections[0].title", "max 24"},
		{"ListEmptySection", ListMessage(to, "b", "o", Section{Title: "a"}), "interactive.action.sections[0].rows", "at least one"},
		{"ListNoSections", ListMessage(to, "b", "o"), "interactive.action.sections", "0 sections"},
		{"CTADisplayTooLong", CTAURLMessage(to, "b", long(21), "https://x.y"), "interactive.action.parameters.display_text", "max 20"},
		{"CTABadURL", CTAURLMessage(to, "b", "Voir", "javascript:alert(1)"), "interactive.action.parameters.url", "http(s)"},
		{"NoBody", Message{To: to, Type: TypeInteractive, Interactive: &Interactive{Type: InteractiveButton}}, "interactive.body", "required"},
		{"InteractiveUnknown", Message{To: to, Type: TypeInteractive, Interactive: &Interactive{Type: "carousel"}}, "interactive.type", "unsupported"},
		{"TemplateNoName", TemplateMessage(to, "", "fr"), "template.name", "required"},
		{"TemplateNoLanguage", TemplateMessage(to, "x", ""), "template.language.code", "required"},
		{"TemplateButtonNoSubType", TemplateMessage(to, "x", "fr", TemplateComponent{Type: ComponentButton, Index: "0"}), "template.components[0].sub_type", "required"},
		{"TemplateButtonBadIndex", TemplateMessage(to, "x", "fr", TemplateComponent{Type: ComponentButton, SubType: ButtonURL, Index: "10"}), "template.components[0].index", "0-9"},
		{"TemplateEmptyParam", TemplateMessage(to, "x", "fr", BodyParameters("")), "template.components[0].parameters[0].text", "required"},
		{"TemplateHeaderParamTooLong", TemplateMessage(to, "x", "fr", TemplateComponent{Type: ComponentHeader, Parameters: []TemplateParameter{{Type: "text", Text: long(61)}}}), "template.components[0].parameters[0].text", "max 60"},
		{"TemplatePayloadInBody", TemplateMessage(to, "x", "fr", TemplateComponent{Type: ComponentBody, Parameters: []TemplateParameter{{Type: "payload", Payload: "p"}}}), "template.components[0].parameters[0].type", "button"},
		{"LatitudeOutOfRange", Message{To: to, Type: TypeLocation, Location: &Location{Latitude: 91}}, "location.latitude", "out of range"},
		{"LongitudeOutOfRange", Message{To: to, Type: TypeLocation, Location: &Location{Longitude: -181}}, "location.longitude", "out of range"},
		{"ContactsEmpty", Message{To: to, Type: TypeContacts, Contacts: []Contact{}}, "contacts", "at least one"},
		{"ContactNoName", Message{To: to, Type: TypeContacts, Contacts: []Contact{{}}}, "contacts[0].name.formatted_name", "required"},
		{"ReactionNoTarget", Message{To: to, Type: TypeReaction, Reaction: &Reaction{Emoji: "👍"}}, "reaction.message_id", "required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.msg.Validate()
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate() = %v, want a ValidationError", err)
			}
			if ve.Field != tt.field || !strings.Contains(ve.Problem, tt.text) {
				t.Fatalf("Validate() = %q, want field %q with %q", err, tt.field, tt.text)
			}
			if Classify(err) != ClassInvalidRequest {
				t.Fatalf("Classify = %v", Classify(err))
			}
		})
	}
}

func TestLocationAcceptsStringCoordinates(t *testing.T) {
	t.Parallel()
	var l Location
	if err := json.Unmarshal([]byte(`{"latitude":"37.44216251868683","longitude":-122.16,"name":"Philz Coffee"}`), &l); err != nil {
		t.Fatal(err)
	}
	if l.Latitude != 37.44216251868683 || l.Longitude != -122.16 || l.Name != "Philz Coffee" {
		t.Fatalf("%+v", l)
	}
	if err := json.Unmarshal([]byte(`{"latitude":"north"}`), &l); err == nil {
		t.Fatal("non-numeric latitude accepted")
	}
}

// FuzzValidate: Validate never panics, and a valid message stays valid
// through its JSON form (what the emulator decodes).
func FuzzValidate(f *testing.F) {
	for _, m := range validMessages() {
		b, _ := json.Marshal(SendRequest{MessagingProduct: "whatsapp", Message: m})
		f.Add(b)
	}
	f.Add([]byte(`{"type":"interactive","interactive":{"type":"list","action":{"sections":[{}]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var req SendRequest
		if json.Unmarshal(data, &req) != nil {
			return
		}
		m := req.Message
		if m.Validate() != nil {
			return
		}
		b, err := json.Marshal(SendRequest{MessagingProduct: "whatsapp", Message: m})
		if err != nil {
			t.Fatal(err)
		}
		var again SendRequest
		if err := json.Unmarshal(b, &again); err != nil {
			t.Fatal(err)
		}
		if err := again.Message.Validate(); err != nil {
			t.Fatalf("valid message invalid after a JSON round trip: %v\n%s", err, b)
		}
	})
}
