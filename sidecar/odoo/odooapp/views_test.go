package odooapp_test

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify/texts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/odooapp"
)

// fieldUse is a field a view names, with the model it belongs to.
type fieldUse struct{ model, name, where string }

// domainField finds the field names of a domain's leaves: ('status', '=', ...).
var domainField = regexp.MustCompile(`\(\s*'([a-z0-9_]+)'\s*,\s*'(=|!=|<>|<|>|<=|>=|in|not in|like|ilike|=like|=ilike|child_of|parent_of)'`)

// viewFields parses an arch with encoding/xml and lists every field it names:
// <field name>, the fields of domains and modifiers (attrs, filter domains),
// group_by contexts, date filters and decoration expressions. A x2many field's inline
// views name fields of its comodel, told by relations.
func viewFields(t *testing.T, arch, model string, relations map[string]string) []fieldUse {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(arch))
	var uses []fieldUse
	stack := []string{model}
	var elements []bool // per open element: did it push a model
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("arch does not parse: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			current := stack[len(stack)-1]
			pushed := false
			for _, a := range el.Attr {
				switch {
				case el.Name.Local == "field" && a.Name.Local == "name":
					uses = append(uses, fieldUse{current, a.Value, "<field>"})
					if rel, ok := relations[current+"."+a.Value]; ok {
						stack = append(stack, rel)
						pushed = true
					}
				case a.Name.Local == "attrs" || a.Name.Local == "domain":
					for _, m := range domainField.FindAllStringSubmatch(a.Value, -1) {
						uses = append(uses, fieldUse{current, m[1], a.Name.Local})
					}
				case a.Name.Local == "date":
					uses = append(uses, fieldUse{current, a.Value, "date filter"})
				case a.Name.Local == "context":
					for _, m := range regexp.MustCompile(`'group_by':\s*'([a-z0-9_]+)`).FindAllStringSubmatch(a.Value, -1) {
						uses = append(uses, fieldUse{current, m[1], "group_by"})
					}
				case strings.HasPrefix(a.Name.Local, "decoration-"):
					for _, m := range regexp.MustCompile(`([a-z_][a-z0-9_]*)\s*(==|!=|in|not in)\s`).FindAllStringSubmatch(a.Value, -1) {
						uses = append(uses, fieldUse{current, m[1], a.Name.Local})
					}
				}
			}
			elements = append(elements, pushed)
		case xml.EndElement:
			if elements[len(elements)-1] {
				stack = stack[:len(stack)-1]
			}
			elements = elements[:len(elements)-1]
		}
	}
	return uses
}

// Every view Install wrote, in each language, parses and names only fields
// registered on its model (or Odoo's automatic ones): Odoo refuses to open a view
// that names an unknown field.
func TestViewsNameOnlyRegisteredFields(t *testing.T) {
	t.Parallel()
	conn := installed(t)
	registered := map[string]bool{}
	relations := map[string]string{}
	for _, row := range mustRows(t, conn, `SELECT model || ' ' || name || ' ' || ttype || ' ' || COALESCE(relation, '') FROM ir_model_fields`) {
		p := strings.Fields(row)
		registered[p[0]+"."+p[1]] = true
		if p[2] == "one2many" || p[2] == "many2many" {
			relations[p[0]+"."+p[1]] = p[3]
		}
	}
	rows := mustRows(t, conn, `
		SELECT json_build_object('name', v.name, 'model', v.model, 'arch', v.arch_db)::text FROM ir_ui_view v
		JOIN ir_model_data d ON d.res_id = v.id AND d.model = 'ir.ui.view' AND d.module = 'whatsapp_sidecar'`)
	if len(rows) != len(odooapp.Views) {
		t.Fatalf("%d views installed, want %d", len(rows), len(odooapp.Views))
	}
	for _, row := range rows {
		var v struct {
			Name, Model string
			Arch        map[string]string
		}
		if err := json.Unmarshal([]byte(row), &v); err != nil {
			t.Fatal(err)
		}
		t.Run(v.Name, func(t *testing.T) {
			if len(v.Arch) != 2 || v.Arch["en_US"] == "" || v.Arch["fr_FR"] == "" {
				t.Fatalf("arch_db has languages %v, want en_US and fr_FR", v.Arch)
			}
			for lang, arch := range v.Arch {
				uses := viewFields(t, arch, v.Model, relations)
				if len(uses) == 0 {
					t.Errorf("%s: the view names no field", lang)
				}
				for _, u := range uses {
					if !registered[u.model+"."+u.name] && !magic[u.name] {
						t.Errorf("%s: %s names %s.%s, which is not a registered field", lang, u.where, u.model, u.name)
					}
				}
			}
		})
	}
}

// The checker above must catch a view naming an unknown field.
func TestViewFieldsSeesUnknownFields(t *testing.T) {
	t.Parallel()
	arch := `<form><field name="status"/><field name="message_ids"><tree><field name="content"/></tree></field>` +
		`<div attrs="{'invisible': [('nope', '=', False)]}"/></form>`
	uses := viewFields(t, arch, "whatsapp.conversation", map[string]string{"whatsapp.conversation.message_ids": "whatsapp.message"})
	var got []string
	for _, u := range uses {
		got = append(got, u.model+"."+u.name)
	}
	want := "whatsapp.conversation.status whatsapp.conversation.message_ids whatsapp.message.content whatsapp.conversation.nope"
	if strings.Join(got, " ") != want {
		t.Errorf("viewFields = %v, want %s", got, want)
	}
}

// Every term of every view has a French translation, and translating keeps the arch
// well-formed.
func TestViewTermsHaveFrench(t *testing.T) {
	t.Parallel()
	for _, v := range odooapp.Views {
		for _, term := range odooapp.ViewTerms(v.Arch()) {
			if _, ok := odooapp.ViewTermsFR()[term]; !ok {
				t.Errorf("view %s: term %q has no French translation", v.XMLID, term)
			}
		}
	}
}

// A list row is one line: no list view, nor the list of a form's one2many, shows a
// text field by default, which Odoo's list renders with every line of the text (a
// column the user must first choose, optional="hide", may: error messages).
func TestListsShowNoMultilineText(t *testing.T) {
	t.Parallel()
	types := map[string]string{}
	relations := map[string]string{}
	for _, f := range allFields() {
		types[f.Model+"."+f.Name] = f.Type
		if f.Type == "one2many" {
			relations[f.Model+"."+f.Name] = f.Relation
		}
	}
	for _, v := range odooapp.Views {
		for _, u := range listFields(t, v.Arch(), v.Model, relations) {
			if types[u.model+"."+u.name] == "text" {
				t.Errorf("view %s: a list shows %s.%s, a text field: each row is as tall as its text", v.XMLID, u.model, u.name)
			}
		}
	}
}

// listFields lists the fields that are columns of a list by default: <field>
// children of a <tree>, the view's own or a one2many's inline one, unless
// optional="hide".
func listFields(t *testing.T, arch, model string, relations map[string]string) []fieldUse {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(arch))
	type open struct {
		name, model string
	}
	stack := []open{{"", model}}
	var uses []fieldUse
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return uses
		}
		if err != nil {
			t.Fatalf("arch does not parse: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			parent := stack[len(stack)-1]
			current := open{el.Name.Local, parent.model}
			if el.Name.Local == "field" {
				hidden := false
				for _, a := range el.Attr {
					hidden = hidden || a.Name.Local == "optional" && a.Value == "hide"
				}
				for _, a := range el.Attr {
					if a.Name.Local != "name" {
						continue
					}
					if parent.name == "tree" && !hidden {
						uses = append(uses, fieldUse{parent.model, a.Value, "list column"})
					}
					if rel, ok := relations[parent.model+"."+a.Value]; ok {
						current.model = rel
					}
				}
			}
			stack = append(stack, current)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
}

// The configuration's Texts tab shows, in each empty box, the built-in text it
// overrides, placeholders included, in the configuration's language (French unless
// lang starts with en, as texts.ParseLang reads it), whatever the user's language.
func TestConfigTextBoxesShowTheBuiltInText(t *testing.T) {
	t.Parallel()
	conn := installed(t)
	var archs map[string]string
	row := mustRows(t, conn, `
		SELECT v.arch_db::text FROM ir_ui_view v JOIN ir_model_data d ON d.res_id = v.id AND d.model = 'ir.ui.view'
		WHERE d.module = 'whatsapp_sidecar' AND d.name = 'view_whatsapp_config_form'`)
	if err := json.Unmarshal([]byte(row[0]), &archs); err != nil {
		t.Fatal(err)
	}
	showWhen := map[texts.Lang]string{
		texts.French:  `{'invisible': [('lang', '=ilike', 'en%')]}`,
		texts.English: `{'invisible': ['!', ('lang', '=ilike', 'en%')]}`,
	}
	for _, lang := range []string{"en_US", "fr_FR"} {
		boxes := map[string]map[string]string{} // field -> attrs -> placeholder
		dec := xml.NewDecoder(strings.NewReader(archs[lang]))
		for {
			tok, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s arch: %v", lang, err)
			}
			el, ok := tok.(xml.StartElement)
			if !ok || el.Name.Local != "field" {
				continue
			}
			a := map[string]string{}
			for _, at := range el.Attr {
				a[at.Name.Local] = at.Value
			}
			if strings.HasPrefix(a["name"], "text_") {
				if boxes[a["name"]] == nil {
					boxes[a["name"]] = map[string]string{}
				}
				boxes[a["name"]][a["attrs"]] = a["placeholder"]
			}
		}
		for _, f := range allFields() {
			if f.Model != "whatsapp.config" || !strings.HasPrefix(f.Name, "text_") {
				continue
			}
			key := strings.TrimPrefix(f.Name, "text_")
			for textLang, attrs := range showWhen {
				want := texts.Get(textLang, key)
				if want == "" {
					t.Fatalf("%s overrides text %q, which package texts does not have", f.Name, key)
				}
				if got := boxes[f.Name][attrs]; got != want {
					t.Errorf("%s arch: %s shown when the configuration's language is %s has placeholder %q, want %q", lang, f.Name, textLang, got, want)
				}
			}
		}
	}
}
