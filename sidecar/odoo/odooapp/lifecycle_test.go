package odooapp_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/install"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/odooapp"
)

// A second migrate changes no ir_* row (not even a write_date) and does not make
// Odoo reload; the first one did ask it to.
func TestMigrateTwiceChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := pgtest.NewDB(t, pgtest.Odoo).Conn(t)
	first, err := install.Migrate(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(first, "\n"), "asked running Odoo servers to reload their registry (base_registry_signaling") {
		t.Errorf("first migrate does not say it signalled Odoo:\n%s", strings.Join(first, "\n"))
	}
	before := irSnapshot(t, conn)
	second, err := install.Migrate(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if diff := pgtest.Diff(before, irSnapshot(t, conn)); len(diff) > 0 {
		t.Errorf("second migrate changed ir_* rows:\n%s", strings.Join(diff, "\n"))
	}
	report := strings.Join(second, "\n")
	if !strings.Contains(report, "Odoo metadata unchanged") || strings.Contains(report, "created") || strings.Contains(report, "updated") {
		t.Errorf("second migrate report:\n%s", report)
	}
}

// uninstall --drop-data leaves every row of every ir_* table as it was before
// migrate, also after Odoo reflected its automatic fields on the models and a user
// saved a filter on messages.
func TestUninstallDropDataLeavesIrTablesAsBefore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := pgtest.NewDB(t, pgtest.Odoo).Conn(t)
	before := irSnapshot(t, conn)
	if _, err := install.Migrate(ctx, conn); err != nil {
		t.Fatal(err)
	}
	// What Odoo adds by itself on `-u` (reflected automatic fields, a flag reflected
	// onto account.payment, which _inherits account.move) and a user's saved filter.
	mustExec(t, conn, `
		INSERT INTO ir_model_fields (model_id, model, name, ttype, state, field_description, store)
		SELECT id, model, 'create_date', 'datetime', 'base', '{"en_US": "Created on"}', true FROM ir_model WHERE model = 'whatsapp.message'`)
	mustExec(t, conn, `
		INSERT INTO ir_model_fields (model_id, model, name, ttype, state, field_description, store)
		SELECT id, model, 'x_whatsapp_invoice_sent', 'boolean', 'base', '{"en_US": "WhatsApp invoice sent"}', true FROM ir_model WHERE model = 'account.payment'`)
	mustExec(t, conn, `
		INSERT INTO ir_filters (name, model_id, domain, context, sort, active, action_id)
		VALUES ('Failed', 'whatsapp.message', '[("status", "=", "failed")]', '{}', '[]', true, NULL)`)
	if _, err := install.Uninstall(ctx, conn, true); err != nil {
		t.Fatal(err)
	}
	if diff := pgtest.Diff(before, irSnapshot(t, conn)); len(diff) > 0 {
		t.Errorf("ir_* rows differ after migrate + uninstall --drop-data:\n%s", strings.Join(diff, "\n"))
	}
}

// Without --drop-data the tables stay, and so do the models, views and menus that
// show them; only the actions go, since nothing would send what they queue. A later
// migrate puts them back.
func TestUninstallKeepsTheHistoryReadable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := installed(t)
	report, err := install.Uninstall(ctx, conn, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(report, "\n"), "removed 7 WhatsApp actions") {
		t.Errorf("report:\n%s", strings.Join(report, "\n"))
	}
	counts := mustRows(t, conn, `
		SELECT (SELECT count(*) FROM ir_model WHERE model LIKE 'whatsapp.%') || ' models, '
		    || (SELECT count(*) FROM ir_ui_menu m JOIN ir_model_data d ON d.res_id = m.id AND d.model = 'ir.ui.menu' AND d.module = 'whatsapp_sidecar') || ' menus, '
		    || (SELECT count(*) FROM ir_act_server s WHERE s.name->>'en_US' IN ('Send by WhatsApp', 'Reply', 'Send')) || ' actions'`)
	if counts[0] != "6 models, 7 menus, 0 actions" {
		t.Errorf("after uninstall: %s, want 6 models, 7 menus, 0 actions", counts[0])
	}
	if _, err := install.Migrate(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if got := mustRows(t, conn, `SELECT count(*)::text FROM ir_model_data WHERE module = 'whatsapp_sidecar' AND model = 'ir.actions.server'`); got[0] != "7" {
		t.Errorf("after migrate again: %s server actions, want 7", got[0])
	}
}

// A user deletes the WhatsApp root menu in Odoo (which detaches its children) and a
// view: the start-up check puts them back, re-attaches the children, and leaves a
// label the administrator changed alone.
func TestCheckRepairsDeletedMenusAndKeepsEdits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := installed(t)
	mustExec(t, conn, `UPDATE ir_ui_menu SET name = '{"en_US": "Chats"}' WHERE id = (
		SELECT res_id FROM ir_model_data WHERE module = 'whatsapp_sidecar' AND name = 'menu_whatsapp_conversation')`)
	// What ir.ui.menu.unlink does: children become top-level menus.
	mustExec(t, conn, `
		WITH root AS (SELECT res_id AS id FROM ir_model_data WHERE module = 'whatsapp_sidecar' AND name = 'menu_whatsapp_root')
		UPDATE ir_ui_menu SET parent_id = NULL, parent_path = id || '/' WHERE parent_id = (SELECT id FROM root)`)
	mustExec(t, conn, `DELETE FROM ir_ui_menu WHERE id = (SELECT res_id FROM ir_model_data WHERE module = 'whatsapp_sidecar' AND name = 'menu_whatsapp_root')`)
	mustExec(t, conn, `DELETE FROM ir_ui_view WHERE id = (SELECT res_id FROM ir_model_data WHERE module = 'whatsapp_sidecar' AND name = 'view_whatsapp_message_search')`)

	repaired, warnings, err := odooapp.Check(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(repaired, "\n")
	for _, want := range []string{
		"re-created ir_ui_menu whatsapp_sidecar.menu_whatsapp_root",
		"re-created ir_ui_view whatsapp_sidecar.view_whatsapp_message_search",
		"re-attached menu whatsapp_sidecar.menu_whatsapp_message",
		"re-linked window action whatsapp_sidecar.action_whatsapp_message to its search view",
		"base_registry_signaling",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("repair report lacks %q:\n%s", want, got)
		}
	}
	if len(warnings) > 0 {
		t.Errorf("warnings: %v", warnings)
	}
	menus := mustRows(t, conn, `
		SELECT (p.name->>'en_US') || ' > ' || (m.name->>'en_US') FROM ir_ui_menu m JOIN ir_ui_menu p ON p.id = m.parent_id
		WHERE m.id IN (SELECT res_id FROM ir_model_data WHERE module = 'whatsapp_sidecar' AND model = 'ir.ui.menu')
		  AND m.parent_path = p.parent_path || m.id || '/'
		ORDER BY m.sequence`)
	if strings.Join(menus, ", ") != "WhatsApp > Messages, WhatsApp > Chats, WhatsApp > Templates, WhatsApp > Button actions, WhatsApp > Scenarios, WhatsApp > Configuration" {
		t.Errorf("menus after repair: %v", menus)
	}
	again, _, err := odooapp.Check(ctx, conn)
	if err != nil || len(again) > 0 {
		t.Errorf("second check: %v, %v; want nothing to repair", again, err)
	}
}

// A model deleted in Odoo's Settings (its table dropped) cannot be repaired: the
// check says so clearly, and still registers everything else.
func TestCheckWarnsAboutADeletedModel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := installed(t)
	// What ir.model.unlink does for a manual model.
	mustExec(t, conn, `DROP TABLE whatsapp_template CASCADE`)
	mustExec(t, conn, `DELETE FROM ir_model WHERE model = 'whatsapp.template'`)
	mustExec(t, conn, `DELETE FROM ir_ui_menu WHERE id = (SELECT res_id FROM ir_model_data WHERE module = 'whatsapp_sidecar' AND name = 'menu_whatsapp_message')`)

	repaired, warnings, err := odooapp.Check(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "model whatsapp.template not registered: table whatsapp_template is missing") {
		t.Errorf("warnings = %q", warnings)
	}
	if !strings.Contains(strings.Join(repaired, "\n"), "menu_whatsapp_message") {
		t.Errorf("the deleted messages menu was not repaired: %v", repaired)
	}
	if got := mustRows(t, conn, `SELECT count(*)::text FROM ir_model WHERE model = 'whatsapp.template'`); got[0] != "0" {
		t.Errorf("whatsapp.template registered without its table")
	}
}

// A flag column that is missing (an older schema, or deleted in Odoo's Settings)
// is never registered: a field without its column breaks every read of sale orders.
func TestInstallNeverRegistersAFieldWithoutItsColumn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := installed(t)
	mustExec(t, conn, `DELETE FROM ir_model_fields WHERE model = 'sale.order' AND name = 'x_whatsapp_rejected'`)
	mustExec(t, conn, `ALTER TABLE sale_order DROP COLUMN x_whatsapp_rejected`)
	report, err := odooapp.Install(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(report, "\n"), "field sale.order.x_whatsapp_rejected not registered: column sale_order.x_whatsapp_rejected is missing") {
		t.Errorf("report:\n%s", strings.Join(report, "\n"))
	}
	if got := mustRows(t, conn, `SELECT count(*)::text FROM ir_model_fields WHERE model = 'sale.order' AND name = 'x_whatsapp_rejected'`); got[0] != "0" {
		t.Errorf("x_whatsapp_rejected registered without its column")
	}
}

// switchedActions is, per model, whether its "Envoyer par WhatsApp" is in the Action
// menu: "account.move=true res.partner=true sale.order=true".
func switchedActions(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	return strings.Join(mustRows(t, conn, `
		SELECT s.model_name || '=' || (s.binding_model_id IS NOT NULL) FROM ir_act_server s
		JOIN ir_model_data d ON d.res_id = s.id AND d.module = 'whatsapp_sidecar' AND d.model = 'ir.actions.server'
		WHERE d.name LIKE 'action_send_%' ORDER BY 1`), " ")
}

func cacheSignal(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	return mustRows(t, conn, `SELECT last_value::text FROM base_cache_signaling`)[0]
}

// A user unticks a switch in Odoo's configuration form, with no sidecar running: its
// action leaves the Action menu of its model, and only its own, and Odoo is told to
// drop its cached menus, in that same transaction; ticking it again brings it back.
func TestSwitchesShowAndHideTheirActionWithoutTheDaemon(t *testing.T) {
	t.Parallel()
	conn := installed(t)
	// As Odoo's form creates it: every switch on (the window action's defaults).
	mustExec(t, conn, `INSERT INTO whatsapp_config (name, phone_number_id, unpaid_invoice_days, is_active,
		show_button_in_order, show_button_in_invoice, show_button_in_partner) VALUES ('WA', '1', 7, true, true, true, true)`)
	all := "account.move=true res.partner=true sale.order=true"
	if got := switchedActions(t, conn); got != all {
		t.Fatalf("all switches on: %s, want %s", got, all)
	}
	switched := 0
	for _, a := range odooapp.ServerActions {
		if a.Switch == "" {
			continue
		}
		switched++
		t.Run(a.Switch, func(t *testing.T) {
			before := cacheSignal(t, conn)
			mustExec(t, conn, `UPDATE whatsapp_config SET `+a.Switch+` = false`)
			want := strings.Replace(all, a.Model+"=true", a.Model+"=false", 1)
			if got := switchedActions(t, conn); got != want {
				t.Errorf("%s off: %s, want %s", a.Switch, got, want)
			}
			if cacheSignal(t, conn) == before {
				t.Errorf("%s off: base_cache_signaling stayed %s: Odoo keeps showing its cached Action menu", a.Switch, before)
			}
			before = cacheSignal(t, conn)
			mustExec(t, conn, `UPDATE whatsapp_config SET `+a.Switch+` = true`)
			if got := switchedActions(t, conn); got != all {
				t.Errorf("%s on again: %s, want %s", a.Switch, got, all)
			}
			if cacheSignal(t, conn) == before {
				t.Errorf("%s on again: base_cache_signaling stayed %s", a.Switch, before)
			}
		})
	}
	if switched != 3 {
		t.Errorf("%d switched actions, want 3 (orders, invoices, contacts)", switched)
	}
	// A change that moves no action (a text) does not clear Odoo's caches.
	before := cacheSignal(t, conn)
	mustExec(t, conn, `UPDATE whatsapp_config SET text_order_created = 'Bonjour'`)
	if after := cacheSignal(t, conn); after != before {
		t.Errorf("editing a text bumped base_cache_signaling from %s to %s", before, after)
	}
}

// A role that may change configurations but not Odoo's actions (the sidecar's own,
// an integration's) still switches the actions: the trigger must not refuse its write.
func TestSwitchesWorkForARoleWithoutRightsOnOdoosActions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t, pgtest.Sidecar)
	conn := db.Conn(t)
	// Roles belong to the server, not the database: one per test database.
	role := pgx.Identifier{db.Name + "_config_writer"}.Sanitize()
	mustExec(t, conn, `CREATE ROLE `+role)
	t.Cleanup(func() {
		ctx := context.WithoutCancel(ctx)
		for _, stmt := range []string{`DROP OWNED BY ` + role, `DROP ROLE ` + role} {
			if _, err := conn.Exec(ctx, stmt); err != nil {
				t.Errorf("%s: %v", stmt, err)
			}
		}
	})
	mustExec(t, conn, `GRANT SELECT, INSERT, UPDATE ON whatsapp_config TO `+role)
	mustExec(t, conn, `GRANT USAGE ON SCHEMA whatsapp_sidecar TO `+role)
	mustExec(t, conn, `INSERT INTO whatsapp_config (name, phone_number_id, unpaid_invoice_days) VALUES ('WA', '1', 7)`)
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL ROLE `+role); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE whatsapp_config SET show_button_in_order = false`)
		return err // the trigger runs at commit, still as the role
	})
	if err != nil {
		t.Fatalf("the role's update: %v", err)
	}
	if got := switchedActions(t, conn); got != "account.move=true res.partner=true sale.order=false" {
		t.Errorf("after the role switched orders off: %s", got)
	}
}

// The show_button_in_* switches of the active configurations show or hide "Envoyer
// par WhatsApp" in the Action menu of orders, invoices and contacts as Odoo shows
// them: an empty switch is an unticked box, so it hides its action, and a row
// written without them (the demo's) gets them on, as Odoo's form would.
func TestActionsFollowTheActiveConfigurations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := installed(t)
	if got := switchedActions(t, conn); got != "account.move=true res.partner=true sale.order=true" {
		t.Fatalf("with no configuration: %s, want all shown", got)
	}
	cases := []struct {
		name, sql, want string
	}{
		{"order switch off, partner switch empty", `INSERT INTO whatsapp_config (name, phone_number_id, unpaid_invoice_days, is_active, show_button_in_order, show_button_in_invoice, show_button_in_partner)
			VALUES ('WA', '1', 7, true, false, true, NULL)`, "account.move=true res.partner=false sale.order=false"},
		{"another company's config has them on", `INSERT INTO whatsapp_config (name, phone_number_id, unpaid_invoice_days, is_active, company_id)
			VALUES ('WA 2', '2', 7, true, 2)`, "account.move=true res.partner=true sale.order=true"},
		{"all switches off", `UPDATE whatsapp_config SET show_button_in_order = false, show_button_in_invoice = false, show_button_in_partner = false`,
			"account.move=false res.partner=false sale.order=false"},
		{"no active configuration", `UPDATE whatsapp_config SET is_active = false`, "account.move=true res.partner=true sale.order=true"},
		{"an active one again", `UPDATE whatsapp_config SET is_active = true WHERE name = 'WA'`, "account.move=false res.partner=false sale.order=false"},
	}
	for _, c := range cases {
		mustExec(t, conn, c.sql)
		if got := switchedActions(t, conn); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
		// The trigger did it: the daemon's sync finds nothing left to do.
		if again, err := odooapp.SyncBindings(ctx, conn); err != nil || len(again) > 0 {
			t.Errorf("%s: sync after the trigger %v, %v; want nothing", c.name, again, err)
		}
	}
	// What changed while the trigger was off (a restore, a bulk load with triggers
	// disabled), the daemon's sync repairs, and says so.
	mustExec(t, conn, `ALTER TABLE whatsapp_config DISABLE TRIGGER whatsapp_sidecar_sync_bindings`)
	mustExec(t, conn, `UPDATE whatsapp_config SET show_button_in_order = true`)
	mustExec(t, conn, `ALTER TABLE whatsapp_config ENABLE TRIGGER whatsapp_sidecar_sync_bindings`)
	report, err := odooapp.SyncBindings(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if got := switchedActions(t, conn); got != "account.move=false res.partner=false sale.order=true" {
		t.Errorf("after the sync: %s", got)
	}
	for _, want := range []string{`showed "Envoyer par WhatsApp" in the Action menu of sale.order (whatsapp_config.show_button_in_order)`, "base_cache_signaling"} {
		if !strings.Contains(strings.Join(report, "\n"), want) {
			t.Errorf("sync report %q lacks %q", report, want)
		}
	}
	// migrate keeps the bindings the switches chose.
	report, err = odooapp.Install(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if got := switchedActions(t, conn); got != "account.move=false res.partner=false sale.order=true" || !strings.Contains(strings.Join(report, "\n"), "ir_act_server: 7 rows (unchanged)") {
		t.Errorf("after migrate: %s\n%s", got, strings.Join(report, "\n"))
	}
}

func TestFingerprintIsStable(t *testing.T) {
	t.Parallel()
	a, b := odooapp.Fingerprint(), odooapp.Fingerprint()
	if a != b || len(a) != 64 {
		t.Errorf("Fingerprint = %q then %q, want the same 64 hex digits", a, b)
	}
}
