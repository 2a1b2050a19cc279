package odooapp_test

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify/texts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/odooapp"
)

// fakeOdoo runs a computed field's code the way Odoo's make_compute does (exec with
// `self` bound to the records), on records with the given values and an env whose
// models hold the given ids; a model listed in unreadable refuses read access. It
// prints what the code assigned to each record.
const fakeOdoo = `
import json, sys
spec = json.load(sys.stdin)

class Found:
    def __init__(self, ids): self.ids = ids

class Model:
    def __init__(self, ids, readable): self.rows, self.readable = set(ids), readable
    def check_access_rights(self, operation, raise_exception=True):
        if not self.readable and raise_exception:
            raise Exception('AccessError')
        return self.readable
    def with_context(self, *args, **kwargs): return self
    def search(self, domain):
        (field, op, ids), = domain
        assert (field, op) == ('id', 'in'), domain
        return Found([i for i in ids if i in self.rows])

class Env(dict):
    pass

class Record:
    def __init__(self, values, env):
        self.__dict__['values'], self.__dict__['assigned'], self.__dict__['env'] = values, {}, env
    def __getattr__(self, name): return self.values.get(name, False)  # an empty field reads False
    def __setitem__(self, name, value): self.assigned[name] = value

class Records(list):
    def mapped(self, name): return [getattr(r, name) for r in self]

env = Env({name: Model(ids, name not in spec['unreadable']) for name, ids in spec['models'].items()})
env.lang = spec['lang'] or None
records = Records(Record(v, env) for v in spec['records'])
records.env = env
exec(spec['code'], {'self': records})
json.dump([r.assigned for r in records], sys.stdout)
`

type fakeOdooSpec struct {
	Code       string           `json:"code"`
	Records    []map[string]any `json:"records"`
	Models     map[string][]int `json:"models"`
	Unreadable []string         `json:"unreadable"`
	Lang       string           `json:"lang"` // the reader's language (env.lang); empty: none
}

// runCompute runs field's compute in fakeOdoo and returns the value it gave each
// record.
func runCompute(t *testing.T, f odooapp.Field, spec fakeOdooSpec) []any {
	t.Helper()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed: cannot run the computed fields' code")
	}
	spec.Code = f.Compute
	if spec.Models == nil {
		spec.Models = map[string][]int{}
	}
	if spec.Unreadable == nil {
		spec.Unreadable = []string{}
	}
	in, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "-c", fakeOdoo)
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("compute of %s.%s fails: %v\n%s", f.Model, f.Name, err, stderr.String())
	}
	var assigned []map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &assigned); err != nil {
		t.Fatalf("fake Odoo output %q: %v", stdout.String(), err)
	}
	values := make([]any, len(assigned))
	for i, a := range assigned {
		v, ok := a[f.Name]
		if !ok {
			t.Fatalf("compute of %s.%s assigns nothing to record %d: Odoo fails the read", f.Model, f.Name, i)
		}
		values[i] = v
	}
	return values
}

func modelField(t *testing.T, model, name string) odooapp.Field {
	t.Helper()
	for _, m := range odooapp.Models {
		for _, f := range m.Fields {
			if m.Name == model && f.Name == name {
				return f
			}
		}
	}
	t.Fatalf("%s has no field %s", model, name)
	return odooapp.Field{}
}

func optionValues(f odooapp.Field) map[string]bool {
	values := map[string]bool{}
	for _, o := range f.Selection {
		values[o.Value] = true
	}
	return values
}

// A message's form links to the order or invoice it is about: a read-only
// reference Odoo opens, empty (so no access error) when the document was deleted,
// its model is not one the link knows, or the user may not read it.
func TestMessageLinksToItsDocument(t *testing.T) {
	t.Parallel()
	ref := modelField(t, "whatsapp.message", "resource_ref")
	if ref.Type != "reference" || ref.Stored() {
		t.Fatalf("resource_ref is a %s (stored %v), want a computed reference", ref.Type, ref.Stored())
	}
	// Every model the sidecar and the actions put in res_model.
	for _, model := range []string{"sale.order", "account.move", "whatsapp.conversation", "whatsapp.interactive.scenario"} {
		if !optionValues(ref)[model] {
			t.Errorf("resource_ref cannot link to %s", model)
		}
	}
	got := runCompute(t, ref, fakeOdooSpec{
		Records: []map[string]any{
			{"res_model": "sale.order", "res_id": 21},
			{"res_model": "account.move", "res_id": 31},
			{"res_model": "sale.order", "res_id": 99},   // deleted
			{"res_model": "stock.picking", "res_id": 5}, // not a model the link knows
			{"res_model": "res.partner", "res_id": 7},   // the user may not read contacts
			{},
		},
		Models:     map[string][]int{"sale.order": {21}, "account.move": {31}, "res.partner": {7}, "stock.picking": {5}},
		Unreadable: []string{"res.partner"},
	})
	want := []any{"sale.order,21", "account.move,31", false, false, false, false}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d: resource_ref = %v, want %v", i, got[i], want[i])
		}
	}
	form := viewArch(t, "view_whatsapp_message_form")
	if !strings.Contains(form, `<field name="resource_ref"`) {
		t.Errorf("the message form does not show resource_ref")
	}
}

// The notification a message is (kind) reads as words in English and French: every
// kind the sidecar writes has a label, and an unknown kind leaves the label empty
// instead of failing the read.
func TestMessageKindsHaveLabels(t *testing.T) {
	t.Parallel()
	label := modelField(t, "whatsapp.message", "kind_label")
	kinds := []string{"order_created", "order_summary", "order_confirmed", "order_cancelled", "order_details",
		"invoice_posted", "invoice_buttons", "invoice_pdf", "invoice_residual", "invoice_paid", "invoice_reminder",
		"scenario", "reply_scenario", "reply_message", "reply_callback", "reply_order_details"}
	for _, key := range texts.Keys() {
		if strings.HasPrefix(key, "reply_") {
			kinds = append(kinds, key)
		}
	}
	for _, o := range label.Selection {
		if o.LabelEN == "" || o.LabelFR == "" || o.LabelEN == o.Value {
			t.Errorf("kind %s: labels %q / %q, want words in both languages", o.Value, o.LabelEN, o.LabelFR)
		}
	}
	var records []map[string]any
	for _, k := range kinds {
		if !optionValues(label)[k] {
			t.Errorf("kind %s has no label", k)
		}
		records = append(records, map[string]any{"kind": k})
	}
	records = append(records, map[string]any{"kind": "my_own_kind"}, map[string]any{})
	got := runCompute(t, label, fakeOdooSpec{Records: records})
	for i, k := range kinds {
		if got[i] != k {
			t.Errorf("kind %s: kind_label = %v", k, got[i])
		}
	}
	if got[len(kinds)] != false || got[len(kinds)+1] != false {
		t.Errorf("unknown and empty kinds: kind_label = %v, %v; want false", got[len(kinds)], got[len(kinds)+1])
	}
	for _, view := range []string{"view_whatsapp_message_form", "view_whatsapp_message_tree"} {
		if !strings.Contains(viewArch(t, view), `<field name="kind_label"`) {
			t.Errorf("%s does not show kind_label", view)
		}
	}
}

// A list row is one line: the messages' preview is their text on one line, cut with
// an ellipsis.
func TestMessagePreviewIsOneLine(t *testing.T) {
	t.Parallel()
	preview := modelField(t, "whatsapp.message", "preview")
	long := strings.Repeat("très long ", 20)
	got := runCompute(t, preview, fakeOdooSpec{Records: []map[string]any{
		{"content": "Bonjour Awa,\n\nVotre commande S00026\nest confirmée.\n"},
		{"content": long},
		{"caption": "Facture INV/2026/00005"},
		{},
	}})
	want := []any{"Bonjour Awa, Votre commande S00026 est confirmée.", string([]rune(strings.TrimSpace(long))[:99]) + "…", "Facture INV/2026/00005", ""}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d: preview = %q, want %q", i, got[i], want[i])
		}
	}
}

func viewArch(t *testing.T, xmlid string) string {
	t.Helper()
	for _, v := range odooapp.Views {
		if v.XMLID == xmlid {
			return v.Arch()
		}
	}
	t.Fatalf("no view %s", xmlid)
	return ""
}

// A customer's click reads as the title they tapped, marked as a click in the
// reader's language, in the list, the breadcrumbs and the conversation's thread; its
// technical id is not in what they read, but stays in the Technical tab.
func TestClickReadsAsItsTitleInTheReadersLanguage(t *testing.T) {
	t.Parallel()
	click := map[string]any{"direction": "in", "contact_name": "Awa Ndiaye", "content": "Valider",
		"message_type": "interactive", "button_id": "btn_validate_order_26"}
	text := map[string]any{"direction": "in", "contact_name": "Awa Ndiaye", "content": "Merci", "message_type": "text"}
	for _, c := range []struct {
		lang, preview, name string
	}{
		{"en_US", `Clicked "Valider"`, `← Awa Ndiaye: Clicked "Valider"`},
		{"fr_FR", "Clic sur « Valider »", "← Awa Ndiaye: Clic sur « Valider »"},
		{"", `Clicked "Valider"`, `← Awa Ndiaye: Clicked "Valider"`},
	} {
		spec := fakeOdooSpec{Records: []map[string]any{click, text}, Lang: c.lang}
		preview := runCompute(t, modelField(t, "whatsapp.message", "preview"), spec)
		name := runCompute(t, modelField(t, "whatsapp.message", "name"), spec)
		if preview[0] != c.preview || name[0] != c.name {
			t.Errorf("lang %q: a click reads %q (list), %q (breadcrumbs); want %q, %q", c.lang, preview[0], name[0], c.preview, c.name)
		}
		if preview[1] != "Merci" || name[1] != "← Awa Ndiaye: Merci" {
			t.Errorf("lang %q: a text reads %q, %q; want it unmarked", c.lang, preview[1], name[1])
		}
		for _, s := range []any{preview[0], name[0]} {
			if strings.Contains(s.(string), "btn_") {
				t.Errorf("lang %q: %q shows the button's technical id", c.lang, s)
			}
		}
	}
	if f := modelField(t, "whatsapp.message", "button_id"); f.Type != "char" || !f.Stored() || !f.Readonly {
		t.Errorf("button_id is %s (stored %v, readonly %v), want a stored read-only char", f.Type, f.Stored(), f.Readonly)
	}
	form := viewArch(t, "view_whatsapp_message_form")
	if !strings.Contains(form, `<field name="content" string="Button clicked" attrs="{'invisible': [('button_id', '=', False)], 'readonly': ['|', ('status', '!=', 'draft'), ('kind', '!=', False)]}"/>`) {
		t.Errorf("the message form does not label a click's title as the button clicked")
	}
	if !strings.Contains(viewArch(t, "view_whatsapp_message_tree"), `<field name="preview"`) {
		t.Errorf("the message list does not show the preview")
	}
	if thread := viewArch(t, "view_whatsapp_conversation_form"); !strings.Contains(thread, "record.button_id.raw_value ? record.preview.raw_value") {
		t.Errorf("the conversation's thread does not show a click as its preview")
	}
}

// Users find messages by what they are, in words: clicks, and the notifications
// of orders and invoices and the automatic replies, without typing a raw key.
func TestMessageSearchFindsClicksAndNotifications(t *testing.T) {
	t.Parallel()
	search := viewArch(t, "view_whatsapp_message_search")
	for _, want := range []string{
		`<field name="button_id"/>`,
		`<filter string="Clicks" name="clicks" domain="[('button_id', '!=', False)]"/>`,
		`<filter string="Order notifications" name="kind_order" domain="[('kind', '=like', 'order_%')]"/>`,
		`<filter string="Invoice notifications" name="kind_invoice" domain="[('kind', '=like', 'invoice_%')]"/>`,
		`<filter string="Automatic replies" name="kind_reply" domain="[('kind', '=like', 'reply_%')]"/>`,
	} {
		if !strings.Contains(search, want) {
			t.Errorf("the message search view lacks %s", want)
		}
	}
	// Every kind the filters name exists with that prefix.
	label := modelField(t, "whatsapp.message", "kind_label")
	for _, prefix := range []string{"order_", "invoice_", "reply_"} {
		n := 0
		for _, o := range label.Selection {
			if strings.HasPrefix(o.Value, prefix) {
				n++
			}
		}
		if n == 0 {
			t.Errorf("no kind starts with %s: its filter finds nothing", prefix)
		}
	}
}
