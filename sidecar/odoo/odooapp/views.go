package odooapp

import (
	"embed"
	"encoding/xml"
	"path"
	"regexp"
	"strings"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify/texts"
)

//go:embed views/*.xml
var viewFiles embed.FS

// Module is the ir_model_data module of every record the sidecar writes: views,
// actions, menus and access rows get an external id whatsapp_sidecar.<name>, the
// natural key upserts go by. No Odoo module has that name, so Odoo's module updates
// never claim or delete these records.
const Module = "whatsapp_sidecar"

// View is one ir_ui_view row; its arch is views/<XMLID>.xml.
type View struct {
	XMLID    string
	Model    string
	Type     string // tree, form, search
	Priority int
	// Inherit is the external id of the Odoo view this one extends (mode
	// 'extension'); the view is skipped when that module is not installed.
	Inherit string
	File    string // under views/
}

// Arch returns the view's XML, with each $default_text(lang, key) replaced by the
// built-in text of that key in that language (package texts), escaped for an
// attribute: the configuration's text boxes show what an empty box sends.
func (v View) Arch() string {
	b, err := viewFiles.ReadFile(path.Join("views", v.File))
	if err != nil {
		// The files are embedded and checked by the tests; a missing one is a build mistake.
		panic(err)
	}
	return defaultTextToken.ReplaceAllStringFunc(string(b), func(token string) string {
		m := defaultTextToken.FindStringSubmatch(token)
		return defaultTextAttr(texts.Lang(m[1]), m[2])
	})
}

var defaultTextToken = regexp.MustCompile(`\$default_text\((fr|en), ([a-z_]+)\)`)

// defaultTextAttr is the built-in text of key in lang as an XML attribute value;
// the newlines stay (&#10;), and a text area shows them in its placeholder.
func defaultTextAttr(lang texts.Lang, key string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(texts.Get(lang, key)))
	return b.String()
}

// defaultTextTerms are the built-in texts as they stand in the archs: the same in
// every language of the views, since a box shows the text in the configuration's
// language, not the user's.
func defaultTextTerms() map[string]string {
	terms := map[string]string{}
	for _, v := range Views {
		raw, err := viewFiles.ReadFile(path.Join("views", v.File))
		if err != nil {
			panic(err)
		}
		for _, m := range defaultTextToken.FindAllStringSubmatch(string(raw), -1) {
			t := defaultTextAttr(texts.Lang(m[1]), m[2])
			terms[t] = t
		}
	}
	return terms
}

// Views are the screens of the WhatsApp app and its tabs on Odoo's forms.
var Views = append(modelViews(
	"whatsapp.message", "whatsapp.conversation", "whatsapp.template",
	"whatsapp.button.action", "whatsapp.interactive.scenario", "whatsapp.config",
),
	View{XMLID: "view_sale_order_form", Model: "sale.order", Type: "form", Priority: 90, Inherit: "sale.view_order_form", File: "sale_order_form.xml"},
	View{XMLID: "view_account_move_form", Model: "account.move", Type: "form", Priority: 90, Inherit: "account.view_move_form", File: "account_move_form.xml"},
	View{XMLID: "view_res_partner_form", Model: "res.partner", Type: "form", Priority: 90, Inherit: "base.view_partner_form", File: "res_partner_form.xml"},
)

// modelViews lists the list, form and search views of each model, named
// views/<table>_<type>.xml.
func modelViews(models ...string) []View {
	var views []View
	for _, model := range models {
		table := Model{Name: model}.Table()
		for _, typ := range []string{"tree", "form", "search"} {
			views = append(views, View{
				XMLID: "view_" + table + "_" + typ, Model: model, Type: typ, Priority: 16,
				File: table + "_" + typ + ".xml",
			})
		}
	}
	return views
}
