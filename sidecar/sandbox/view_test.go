package sandbox

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/outbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
)

func outbound(t *testing.T, msg whatsapp.Message) emulator.ConversationMessage {
	t.Helper()
	body, err := json.Marshal(whatsapp.SendRequest{MessagingProduct: "whatsapp", Message: msg})
	if err != nil {
		t.Fatal(err)
	}
	return emulator.ConversationMessage{ID: "wamid.1", WaID: "221771234567", Direction: "out", Type: string(msg.Type),
		Status: "read", BizOpaqueCallbackData: msg.BizOpaqueCallbackData, Payload: body}
}

func TestTemplatesAreRenderedWithTheirParameters(t *testing.T) {
	emu := emulator.New(emulator.Config{AccessToken: "tok", Templates: []whatsapp.TemplateInfo{{
		Name: "commande_creee", Language: "fr", Status: "APPROVED", Category: "UTILITY",
		Components: []whatsapp.TemplateComponentInfo{
			{Type: "HEADER", Format: "TEXT", Text: "Commande {{1}}"},
			{Type: "BODY", Text: "Bonjour {{1}}, votre commande {{2}} de {{3}} est enregistrée."},
			{Type: "FOOTER", Text: "Boutique Dakar"},
			{Type: "BUTTONS", Buttons: []whatsapp.TemplateButtonInfo{{Type: "QUICK_REPLY", Text: "Valider"}, {Type: "URL", Text: "Suivre", URL: "https://example.com/s"}}},
		},
	}, {
		Name: "rappel", Language: "en", Status: "APPROVED", ParameterFormat: "NAMED",
		Components: []whatsapp.TemplateComponentInfo{{Type: "BODY", Text: "{{name}}, {{invoice}} is due."}},
	}}})
	v := viewer{emu: emu}
	text := func(s string) whatsapp.TemplateParameter { return whatsapp.TemplateParameter{Type: "text", Text: s} }

	got := v.view(outbound(t, whatsapp.Message{To: "+221771234567", Type: whatsapp.TypeTemplate, BizOpaqueCallbackData: outbox.CallbackData(7),
		Template: &whatsapp.Template{Name: "commande_creee", Language: whatsapp.TemplateLanguage{Code: "fr"}, Components: []whatsapp.TemplateComponent{
			{Type: whatsapp.ComponentHeader, Parameters: []whatsapp.TemplateParameter{text("S00042")}},
			{Type: whatsapp.ComponentBody, Parameters: []whatsapp.TemplateParameter{text("Awa"), text("S00042"),
				{Type: "currency", Currency: &whatsapp.Currency{FallbackValue: "212 400 F CFA", Code: "XOF", Amount1000: 212400000}}}},
			{Type: whatsapp.ComponentButton, SubType: whatsapp.ButtonQuickReply, Index: "0",
				Parameters: []whatsapp.TemplateParameter{{Type: "payload", Payload: "btn_validate_order_42"}}},
		}}}))
	if got.Header != "Commande S00042" || got.Text != "Bonjour Awa, votre commande S00042 de 212 400 F CFA est enregistrée." ||
		got.Footer != "Boutique Dakar" || !got.Template.Known {
		t.Errorf("rendered %q / %q / %q (known %v)", got.Header, got.Text, got.Footer, got.Template.Known)
	}
	wantButtons := []buttonView{{Kind: "quick_reply", Title: "Valider", Payload: "btn_validate_order_42"}, {Kind: "url", Title: "Suivre", URL: "https://example.com/s"}}
	if !reflect.DeepEqual(got.Buttons, wantButtons) {
		t.Errorf("buttons %+v, want %+v", got.Buttons, wantButtons)
	}
	if got.rowID != 7 {
		t.Errorf("row %d, want 7 from biz_opaque_callback_data", got.rowID)
	}

	named := v.view(outbound(t, whatsapp.Message{To: "+221771234567", Type: whatsapp.TypeTemplate,
		Template: &whatsapp.Template{Name: "rappel", Language: whatsapp.TemplateLanguage{Code: "en"}, Components: []whatsapp.TemplateComponent{
			{Type: whatsapp.ComponentBody, Parameters: []whatsapp.TemplateParameter{
				{Type: "text", ParameterName: "invoice", Text: "INV/2026/00005"}, {Type: "text", ParameterName: "name", Text: "Awa"}}},
		}}}))
	if named.Text != "Awa, INV/2026/00005 is due." {
		t.Errorf("named parameters: %q", named.Text)
	}

	unknown := v.view(outbound(t, whatsapp.Message{To: "+221771234567", Type: whatsapp.TypeTemplate,
		Template: &whatsapp.Template{Name: "gone", Language: whatsapp.TemplateLanguage{Code: "fr"}, Components: []whatsapp.TemplateComponent{
			{Type: whatsapp.ComponentBody, Parameters: []whatsapp.TemplateParameter{text("Awa"), text("S00042")}}}}}))
	if unknown.Template.Known || unknown.Text != "Awa · S00042" {
		t.Errorf("template missing from the catalogue: %+v", unknown)
	}
}

func TestInteractiveAndMediaMessages(t *testing.T) {
	emu := emulator.New(emulator.Config{AccessToken: "tok"})
	v := viewer{emu: emu}
	list := v.view(outbound(t, whatsapp.Message{To: "+221771234567", Type: whatsapp.TypeInteractive, Interactive: &whatsapp.Interactive{
		Type: whatsapp.InteractiveList, Header: &whatsapp.InteractiveHeader{Type: "text", Text: "Nos offres"},
		Body: &whatsapp.InteractiveText{Text: "Choisissez"}, Footer: &whatsapp.InteractiveText{Text: "Boutique"},
		Action: whatsapp.InteractiveAction{Button: "Voir", Sections: []whatsapp.Section{{Rows: []whatsapp.Row{{ID: "row_1", Title: "Chaise", Description: "45 000 F"}}}}},
	}}))
	if list.Header != "Nos offres" || list.ListLabel != "Voir" || len(list.Buttons) != 1 || list.Buttons[0] != (buttonView{Kind: "row", ID: "row_1", Title: "Chaise", Description: "45 000 F"}) {
		t.Errorf("list message %+v", list)
	}

	id, err := emu.PutMedia(emulator.DefaultPhoneNumberID, "application/pdf", []byte("%PDF-1.4"))
	if err != nil {
		t.Fatal(err)
	}
	doc := v.view(outbound(t, whatsapp.Message{To: "+221771234567", Type: whatsapp.TypeDocument,
		Document: &whatsapp.Media{ID: id, Filename: "INV 2026/5.pdf", Caption: "Votre facture"}}))
	want := mediaView{Kind: "document", URL: "/media/" + id + "?name=INV+2026%2F5.pdf", Filename: "INV 2026/5.pdf", MimeType: "application/pdf", Size: 8}
	if doc.Media == nil || *doc.Media != want || doc.Text != "Votre facture" {
		t.Errorf("document %+v, want %+v", doc.Media, want)
	}
	gone := v.view(outbound(t, whatsapp.Message{To: "+221771234567", Type: whatsapp.TypeImage, Image: &whatsapp.Media{ID: "404"}}))
	if gone.Media == nil || gone.Media.URL != "" {
		t.Errorf("media the emulator does not hold: %+v, want a card without a link", gone.Media)
	}
}
