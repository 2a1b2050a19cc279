package odooapp_test

import (
	"strings"
	"testing"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/odooapp"
)

// label is one text a French user reads: a model, field, option, menu, action or
// view term, in English and in French.
type label struct{ where, en, fr string }

func allLabels() []label {
	var labels []label
	for _, m := range odooapp.Models {
		labels = append(labels, label{"model " + m.Name, m.LabelEN, m.LabelFR})
	}
	for _, f := range allFields() {
		labels = append(labels, label{"field " + f.Model + "." + f.Name, f.LabelEN, f.LabelFR})
		for _, o := range f.Selection {
			labels = append(labels, label{"option " + f.Model + "." + f.Name + "=" + o.Value, o.LabelEN, o.LabelFR})
		}
	}
	for _, m := range odooapp.Menus {
		labels = append(labels, label{"menu " + m.XMLID, m.NameEN, m.NameFR})
	}
	for _, w := range odooapp.WindowActions {
		labels = append(labels, label{"window action " + w.XMLID, w.NameEN, w.NameFR})
	}
	for _, a := range odooapp.ServerActions {
		labels = append(labels, label{"server action " + a.XMLID, a.NameEN, a.NameFR})
	}
	for en, fr := range odooapp.WrittenTermsFR() {
		labels = append(labels, label{"view term", en, fr})
	}
	return labels
}

// odooFR is how Odoo 16 itself says these words in French: the msgstr its addons'
// i18n/fr.po give most often for the msgid (Status: 40 times Statut; Templates:
// Modèles; Related Document: Document associé; Access Token: Jeton d'accès).
var odooFR = map[string]string{
	"status":                 "Statut",
	"template":               "Modèle",
	"templates":              "Modèles",
	"language":               "Langue",
	"phone number":           "Numéro de téléphone",
	"message type":           "Type de message",
	"related document":       "Document associé",
	"related document model": "Modèle de document associé",
	"related document id":    "ID du document associé",
	"company":                "Société",
	"category":               "Catégorie",
	"attachment":             "Pièce jointe",
	"preview":                "Aperçu",
	"sequence":               "Séquence",
}

// sameInFrench are the labels French writes as English does.
var sameInFrench = map[string]bool{
	"Active": true, "Audio": true, "Configuration": true, "Contact": true, "Contacts": true, "Conversation": true,
	"Conversations": true, "Date": true, "Description": true, "Description / Notes": true, "Direction": true,
	"Document": true, "Image": true, "Marketing": true, "Message": true, "Messages": true, "Notification": true,
	"Orange Money": true, "Sticker": true, "Wave": true, "Webhook": true, "WhatsApp": true, "WhatsApp Business": true,
	// Technical values shown as examples.
	"action_confirm": true, "btn_validate_order_": true, "sale.order": true,
	// A style, not words.
	odooapp.ConversationThreadCSS: true,
}

// A French user reads French, in Odoo's own words: no label stays English (Phone
// Number ID, Templates), words Odoo translates are translated as Odoo does (Status
// is Statut), and no French label keeps the English "template" or "token".
func TestFrenchLabelsAreOdoosFrench(t *testing.T) {
	t.Parallel()
	for _, l := range allLabels() {
		if l.en == "" {
			continue
		}
		if l.fr == l.en && !sameInFrench[l.en] {
			t.Errorf("%s: %q stays English in French", l.where, l.en)
		}
		if want, ok := odooFR[strings.ToLower(l.en)]; ok && l.fr != want {
			t.Errorf("%s: %q is %q in French, Odoo 16 says %q", l.where, l.en, l.fr, want)
		}
		for _, word := range []string{"template", "token"} {
			if strings.Contains(strings.ToLower(l.fr), word) {
				t.Errorf("%s: French %q keeps the English %q (Odoo: modèle, jeton)", l.where, l.fr, word)
			}
		}
	}
}

// Two fields of a model never share a label, in English or French: Odoo tells
// fields apart by label in filters, group-bys and exports (and warns about it).
func TestNoTwoFieldsShareALabel(t *testing.T) {
	t.Parallel()
	for _, lang := range []string{"en", "fr"} {
		seen := map[string]string{}
		for _, f := range allFields() {
			l := f.LabelEN
			if lang == "fr" {
				l = f.LabelFR
			}
			key := f.Model + "|" + strings.ToLower(l)
			if other, dup := seen[key]; dup {
				t.Errorf("%s: %s.%s and %s share the label %q", lang, f.Model, f.Name, other, l)
			}
			seen[key] = f.Name
		}
	}
}
