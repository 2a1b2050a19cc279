package odooapp_test

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/odooapp"
)

// What Odoo checks in Python when these rows are written through its ORM (the SQL
// constraints hold by construction: the rows were inserted), and what it needs to
// load them: each query lists the offending rows, so the test names them.
func TestRowsSatisfyOdooConstraints(t *testing.T) {
	t.Parallel()
	conn := installed(t)
	ours := `(SELECT res_id FROM ir_model_data WHERE module = 'whatsapp_sidecar' AND model = %s)`
	mine := func(model string) string { return strings.Replace(ours, "%s", quoteLiteral(model), 1) }
	cases := []struct {
		name  string
		query string
	}{
		{"every model is manual, not transient, with a label in en_US and fr_FR", `
			SELECT model FROM ir_model WHERE model LIKE 'whatsapp.%'
			AND NOT (state = 'manual' AND transient IS FALSE AND name ? 'en_US' AND name ? 'fr_FR' AND info <> '')`},
		{"every field is labelled in en_US and fr_FR", `
			SELECT model || '.' || name FROM ir_model_fields WHERE state = 'manual' AND (model LIKE 'whatsapp.%' OR name LIKE 'x\_whatsapp\_%')
			AND NOT (field_description ? 'en_US' AND field_description ? 'fr_FR' AND model_id = (SELECT id FROM ir_model m WHERE m.model = ir_model_fields.model))`},
		{"a selection field has values, each labelled in both languages", `
			SELECT f.model || '.' || f.name FROM ir_model_fields f WHERE f.state = 'manual' AND f.ttype = 'selection'
			AND (NOT EXISTS (SELECT 1 FROM ir_model_fields_selection s WHERE s.field_id = f.id)
			  OR EXISTS (SELECT 1 FROM ir_model_fields_selection s WHERE s.field_id = f.id AND NOT (s.name ? 'en_US' AND s.name ? 'fr_FR')))`},
		{"a relational field names an installed model", `
			SELECT f.model || '.' || f.name FROM ir_model_fields f WHERE f.state = 'manual' AND f.ttype IN ('many2one', 'one2many')
			AND (f.model LIKE 'whatsapp.%') AND NOT EXISTS (SELECT 1 FROM ir_model m WHERE m.model = f.relation)`},
		{"a computed field is read-only, as Odoo makes its own (a manual field's readonly is taken as written)", `
			SELECT model || '.' || name FROM ir_model_fields WHERE state = 'manual' AND compute IS NOT NULL AND NOT readonly`},
		{"a many2one has an on_delete Odoo knows", `
			SELECT model || '.' || name FROM ir_model_fields WHERE state = 'manual' AND ttype = 'many2one'
			AND model LIKE 'whatsapp.%' AND on_delete NOT IN ('set null', 'cascade', 'restrict')`},
		{"a one2many's inverse is a many2one back to its model", `
			SELECT f.model || '.' || f.name FROM ir_model_fields f WHERE f.state = 'manual' AND f.ttype = 'one2many'
			AND NOT EXISTS (SELECT 1 FROM ir_model_fields i WHERE i.model = f.relation AND i.name = f.relation_field
			                AND i.ttype = 'many2one' AND i.relation = f.model)`},
		{"every menu's parent_path is its parent's plus its id", `
			SELECT m.id::text FROM ir_ui_menu m LEFT JOIN ir_ui_menu p ON p.id = m.parent_id
			WHERE m.id IN ` + mine("ir.ui.menu") + ` AND m.parent_path IS DISTINCT FROM COALESCE(p.parent_path, '') || m.id || '/'`},
		{"every menu's action exists and opens an installed model", `
			SELECT m.id::text FROM ir_ui_menu m WHERE m.id IN ` + mine("ir.ui.menu") + ` AND m.action IS NOT NULL
			AND NOT EXISTS (SELECT 1 FROM ir_act_window w JOIN ir_model im ON im.model = w.res_model
			                WHERE 'ir.actions.act_window,' || w.id = m.action)`},
		{"every window action's search view is a search view of its model", `
			SELECT w.id::text FROM ir_act_window w WHERE w.id IN ` + mine("ir.actions.act_window") + `
			AND NOT EXISTS (SELECT 1 FROM ir_ui_view v WHERE v.id = w.search_view_id AND v.type = 'search' AND v.model = w.res_model)`},
		{"every server action runs code on an installed model, bound to that model or to none", `
			SELECT s.id::text FROM ir_act_server s JOIN ir_model m ON m.id = s.model_id
			WHERE s.id IN ` + mine("ir.actions.server") + `
			AND NOT (s.state = 'code' AND s.usage = 'ir_actions_server' AND s.model_name = m.model
			         AND s.binding_model_id IS NOT DISTINCT FROM s.model_id AND s.binding_type = 'action')`},
		{"every server action is restricted to a group", `
			SELECT s.id::text FROM ir_act_server s WHERE s.id IN ` + mine("ir.actions.server") + `
			AND NOT EXISTS (SELECT 1 FROM ir_act_server_group_rel r WHERE r.act_id = s.id)`},
		{"every model has access rows, and internal users never delete", `
			SELECT m.model FROM ir_model m WHERE m.model LIKE 'whatsapp.%'
			AND (NOT EXISTS (SELECT 1 FROM ir_model_access a WHERE a.model_id = m.id)
			  OR EXISTS (SELECT 1 FROM ir_model_access a JOIN ir_model_data g ON g.res_id = a.group_id AND g.model = 'res.groups'
			             WHERE a.model_id = m.id AND g.module = 'base' AND g.name = 'group_user' AND a.perm_unlink))`},
		{"an extension view extends a view of the same model", `
			SELECT v.name FROM ir_ui_view v LEFT JOIN ir_ui_view p ON p.id = v.inherit_id
			WHERE v.id IN ` + mine("ir.ui.view") + ` AND v.inherit_id IS NOT NULL AND (p.model IS DISTINCT FROM v.model OR v.mode <> 'extension')`},
		{"every external id points at a row", `
			SELECT d.name FROM ir_model_data d WHERE d.module = 'whatsapp_sidecar' AND NOT EXISTS (
			    SELECT 1 FROM ir_ui_view x WHERE d.model = 'ir.ui.view' AND x.id = d.res_id UNION ALL
			    SELECT 1 FROM ir_ui_menu x WHERE d.model = 'ir.ui.menu' AND x.id = d.res_id UNION ALL
			    SELECT 1 FROM ir_act_window x WHERE d.model = 'ir.actions.act_window' AND x.id = d.res_id UNION ALL
			    SELECT 1 FROM ir_act_server x WHERE d.model = 'ir.actions.server' AND x.id = d.res_id UNION ALL
			    SELECT 1 FROM ir_model_access x WHERE d.model = 'ir.model.access' AND x.id = d.res_id)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if bad := mustRows(t, conn, c.query); len(bad) > 0 {
				t.Errorf("offending rows: %v", bad)
			}
		})
	}
}

// ir_model.order may only name stored fields, in Odoo's _order syntax (_check_order).
func TestModelOrderNamesStoredFields(t *testing.T) {
	t.Parallel()
	term := regexp.MustCompile(`^\s*([a-z0-9_]+)(\s+(asc|desc))?\s*$`)
	for _, m := range odooapp.Models {
		stored := map[string]bool{"id": true, "create_date": true, "write_date": true}
		for _, f := range m.Fields {
			stored[f.Name] = f.Stored()
		}
		for _, part := range strings.Split(m.Order, ",") {
			sub := term.FindStringSubmatch(part)
			if sub == nil || !stored[sub[1]] {
				t.Errorf("%s: order %q: %q is not a stored field with an optional asc/desc", m.Name, m.Order, part)
			}
		}
	}
}

// The menus make the WhatsApp app: a root with the six entries, in that order, the
// configuration for Settings managers only.
func TestMenusFormTheWhatsAppApp(t *testing.T) {
	t.Parallel()
	conn := installed(t)
	got := mustRows(t, conn, `
		SELECT COALESCE((p.name->>'en_US') || ' > ', '') || (m.name->>'en_US') || ' [' || (m.name->>'fr_FR') || ']'
		       || COALESCE(' ' || (SELECT string_agg(d.module || '.' || d.name, ',') FROM ir_ui_menu_group_rel r
		                           JOIN ir_model_data d ON d.model = 'res.groups' AND d.res_id = r.gid WHERE r.menu_id = m.id), '')
		FROM ir_ui_menu m LEFT JOIN ir_ui_menu p ON p.id = m.parent_id
		WHERE m.id IN (SELECT res_id FROM ir_model_data WHERE module = 'whatsapp_sidecar' AND model = 'ir.ui.menu')
		ORDER BY p.id NULLS FIRST, m.sequence`)
	want := []string{
		"WhatsApp [WhatsApp] base.group_user",
		"WhatsApp > Messages [Messages]",
		"WhatsApp > Conversations [Conversations]",
		"WhatsApp > Templates [Modèles]",
		"WhatsApp > Button actions [Actions des boutons] base.group_system",
		"WhatsApp > Scenarios [Scénarios]",
		"WhatsApp > Configuration [Configuration] base.group_system",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("menus:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The fields keep what an Odoo user reads: French labels, and what Odoo's own
// reflection would write (else `odoo -u` rewrites the row and drops the French).
func TestFieldRowsAreWhatOdooReflects(t *testing.T) {
	t.Parallel()
	conn := installed(t)
	cases := []struct{ model, field, want string }{
		{"whatsapp.message", "status", `selection Statut required=false store=true selectable=true copied=true`},
		{"whatsapp.message", "direction", `selection Direction required=true store=true selectable=true copied=true`},
		{"whatsapp.message", "contact_id", `many2one Contact required=false store=true selectable=true copied=true res.partner set null index=true`},
		{"whatsapp.message", "wa_message_id", `char ID Message WhatsApp required=false store=true selectable=true copied=false`},
		{"whatsapp.message", "name", `char Résumé required=false store=false selectable=false copied=false`},
		{"whatsapp.conversation", "message_ids", `one2many Messages required=false store=true selectable=true copied=false whatsapp.message conversation_id`},
		{"whatsapp.config", "unpaid_invoice_days", `integer Nombre de jours avant envoi facture impayée required=true store=true selectable=true copied=true`},
		{"sale.order", "x_whatsapp_validated", `boolean Validée via WhatsApp required=false store=true selectable=true copied=false`},
	}
	for _, c := range cases {
		got := mustRows(t, conn, `
			SELECT ttype || ' ' || (field_description->>'fr_FR') || ' required=' || required || ' store=' || store
			       || ' selectable=' || selectable || ' copied=' || copied
			       || COALESCE(' ' || relation, '') || COALESCE(' ' || on_delete, '') || COALESCE(' ' || relation_field, '')
			       || CASE WHEN index THEN ' index=true' ELSE '' END
			FROM ir_model_fields WHERE model = $1 AND name = $2 AND state = 'manual'`, c.model, c.field)
		if len(got) != 1 || got[0] != c.want {
			t.Errorf("%s.%s = %q, want %q", c.model, c.field, got, c.want)
		}
	}
	// Odoo numbers selection values from 0 (_reflect_selections).
	seq := mustRows(t, conn, `
		SELECT string_agg(s.value || '=' || s.sequence, ' ' ORDER BY s.sequence) FROM ir_model_fields_selection s
		JOIN ir_model_fields f ON f.id = s.field_id WHERE f.model = 'whatsapp.message' AND f.name = 'direction'`)
	if seq[0] != "in=0 out=1" {
		t.Errorf("direction values = %s, want in=0 out=1", seq[0])
	}
}

// The app's window actions give a new message the draft status, so what a user
// types in Odoo is never sent before Action > Send.
func TestNewMessagesFromTheMenuAreDrafts(t *testing.T) {
	t.Parallel()
	conn := installed(t)
	var context string
	if err := conn.QueryRow(contextBG, `
		SELECT w.context FROM ir_act_window w JOIN ir_model_data d ON d.res_id = w.id
		WHERE d.module = 'whatsapp_sidecar' AND d.name = 'action_whatsapp_message'`).Scan(&context); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"'default_status': 'draft'", "'default_direction': 'out'"} {
		if !strings.Contains(context, want) {
			t.Errorf("messages action context %s lacks %s", context, want)
		}
	}
	var names string
	if err := conn.QueryRow(contextBG, `SELECT w.name::text FROM ir_act_window w JOIN ir_model_data d ON d.res_id = w.id
		WHERE d.module = 'whatsapp_sidecar' AND d.name = 'action_whatsapp_message'`).Scan(&names); err != nil {
		t.Fatal(err)
	}
	var labels map[string]string
	if err := json.Unmarshal([]byte(names), &labels); err != nil || labels["fr_FR"] != "Messages WhatsApp" {
		t.Errorf("action name = %s, want fr_FR Messages WhatsApp", names)
	}
}

var contextBG = context.Background()
