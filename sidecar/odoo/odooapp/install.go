package odooapp

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// installer writes every record of the app in one transaction, each only where what
// it depends on exists: a model's table, a field's column, the Odoo view a tab
// extends, the model a menu opens. What it skips it says.
type installer struct {
	tx pgx.Tx
	md mode
	t  *tally

	hasMail     bool           // ir_model has the mail module's is_mail_* columns
	hasTracking bool           // ir_model_fields has mail's tracking column
	models      map[string]int // ir_model ids of the models records may name
	views       map[string]int // our views by external id
	windows     map[string]int // our window actions by external id
	menus       map[string]int // our menus by external id
}

func (in *installer) run(ctx context.Context) error {
	var err error
	if in.hasMail, err = hasColumn(ctx, in.tx, "ir_model", "is_mail_thread"); err != nil {
		return err
	}
	if in.hasTracking, err = hasColumn(ctx, in.tx, "ir_model_fields", "tracking"); err != nil {
		return err
	}
	in.models, in.views, in.windows, in.menus = map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	for _, m := range Models {
		if err := in.model(ctx, m); err != nil {
			return err
		}
	}
	for _, f := range FlagFields {
		if err := in.flag(ctx, f); err != nil {
			return err
		}
	}
	for _, v := range Views {
		if err := in.view(ctx, v); err != nil {
			return err
		}
	}
	for _, w := range WindowActions {
		if err := in.window(ctx, w); err != nil {
			return err
		}
	}
	for _, a := range ServerActions {
		if err := in.serverAction(ctx, a); err != nil {
			return err
		}
	}
	for _, m := range Menus {
		if err := in.menu(ctx, m); err != nil {
			return err
		}
	}
	for _, a := range Accesses {
		if err := in.access(ctx, a); err != nil {
			return err
		}
	}
	return nil
}

func (in *installer) model(ctx context.Context, m Model) error {
	columns, err := tableColumns(ctx, in.tx, m.Table())
	if err != nil {
		return err
	}
	if columns == nil {
		in.t.warn("model %s not registered: table %s is missing (was the model deleted in Odoo's Settings > Technical > Models? "+
			"That drops the table and its rows; `whatsapp-sidecar uninstall --drop-data` then `migrate` recreates it empty)", m.Name, m.Table())
		return nil
	}
	id, err := upsertModel(ctx, in.tx, m, in.hasMail, in.md, in.t)
	if err != nil {
		return err
	}
	if id == 0 {
		in.t.warn("model %s is defined by an installed Odoo module: left to it", m.Name)
		return nil
	}
	in.models[m.Name] = id
	for _, f := range m.Fields {
		if err := in.field(ctx, id, f, columns); err != nil {
			return err
		}
	}
	return nil
}

func (in *installer) field(ctx context.Context, modelID int, f Field, columns map[string]bool) error {
	if f.Stored() && !columns[f.Name] {
		in.t.warn("field %s.%s not registered: column %s.%s is missing (deleted in Odoo's Settings > Technical > Fields?)",
			f.Model, f.Name, Model{Name: f.Model}.Table(), f.Name)
		return nil
	}
	id, err := upsertField(ctx, in.tx, modelID, f, in.hasTracking, in.md, in.t)
	if err != nil {
		return err
	}
	if id == 0 {
		return nil // an Odoo module's field of the same name
	}
	// Sequence from 0, as Odoo's reflection numbers them: another sequence makes
	// `odoo -u` rewrite the rows, which drops their French labels.
	for i, o := range f.Selection {
		if err := upsertSelection(ctx, in.tx, id, i, o, in.md, in.t, f.Model+"."+f.Name); err != nil {
			return err
		}
	}
	return nil
}

// flag registers an x_whatsapp_* field only where its model is installed and its
// column exists: a field row without a column breaks every read of the model.
func (in *installer) flag(ctx context.Context, f Field) error {
	modelID, err := in.odooModel(ctx, f.Model)
	if err != nil || modelID == 0 {
		return err
	}
	columns, err := tableColumns(ctx, in.tx, Model{Name: f.Model}.Table())
	if err != nil {
		return err
	}
	return in.field(ctx, modelID, f, columns)
}

// odooModel returns the ir_model id of model, ours or Odoo's, 0 when it is not
// installed.
func (in *installer) odooModel(ctx context.Context, model string) (int, error) {
	if id, ok := in.models[model]; ok {
		return id, nil
	}
	for _, m := range Models {
		if m.Name == model {
			return 0, nil // ours but not registered: already warned
		}
	}
	var id int
	err := in.tx.QueryRow(ctx, `SELECT id FROM ir_model WHERE model = $1`, model).Scan(&id)
	if err == pgx.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("look up model %s: %w", model, err)
	}
	in.models[model] = id
	return id, nil
}

func (in *installer) view(ctx context.Context, v View) error {
	if id, err := in.odooModel(ctx, v.Model); err != nil || id == 0 {
		return err
	}
	arch := v.Arch()
	rec := record{xmlid: v.XMLID, model: "ir.ui.view", table: "ir_ui_view", cols: []col{
		text("name", viewName(v)),
		text("model", v.Model),
		text("type", v.Type),
		integer("priority", v.Priority),
		text("mode", "primary"),
		null("inherit_id", "int4"),
		{name: "arch_db", cast: "jsonb", val: translations(arch, translateArch(arch, frTerms))},
		boolean("active", true),
	}}
	if v.Inherit != "" {
		parent, err := xmlidRow(ctx, in.tx, v.Inherit, "ir_ui_view")
		if err != nil {
			return err
		}
		if parent == 0 {
			in.t.warn("view %s skipped: the view it extends, %s, is not installed", v.XMLID, v.Inherit)
			return nil
		}
		rec.cols[4], rec.cols[5] = text("mode", "extension"), integer("inherit_id", parent)
	}
	id, _, err := upsertRecord(ctx, in.tx, rec, in.md, in.t)
	in.views[v.XMLID] = id
	return err
}

// viewName follows Odoo's naming, e.g. whatsapp.message.tree, sale.order.form.whatsapp.
func viewName(v View) string {
	if v.Inherit != "" {
		return v.Model + "." + v.Type + ".whatsapp"
	}
	return v.Model + "." + v.Type
}

func (in *installer) window(ctx context.Context, w WindowAction) error {
	if id, err := in.odooModel(ctx, w.Model); err != nil || id == 0 {
		return err
	}
	id, _, err := upsertRecord(ctx, in.tx, record{xmlid: w.XMLID, model: "ir.actions.act_window", table: "ir_act_window", cols: []col{
		translated("name", w.NameEN, w.NameFR),
		text("type", "ir.actions.act_window"),
		text("binding_type", "action"),
		text("res_model", w.Model),
		text("view_mode", w.ViewMode),
		text("context", w.Context),
		text("target", "current"),
		integer("limit", 80),
		ref("search_view_id", in.views["view_"+Model{Name: w.Model}.Table()+"_search"]),
		translated("help", emptyListHelp(w.HelpEN), emptyListHelp(w.HelpFR)),
	}}, in.md, in.t)
	in.windows[w.XMLID] = id
	if err != nil || in.md != repairMissing {
		return err
	}
	// A deleted search view left the action without one (ON DELETE SET NULL).
	search := in.views["view_"+Model{Name: w.Model}.Table()+"_search"]
	tag, err := in.tx.Exec(ctx, `UPDATE ir_act_window SET search_view_id = $2 WHERE id = $1 AND search_view_id IS NULL AND $2 <> 0`, id, search)
	if err != nil {
		return fmt.Errorf("link window action %s to its search view: %w", w.XMLID, err)
	}
	if tag.RowsAffected() > 0 {
		in.t.add("ir_act_window", updated, "")
		in.t.repaired = append(in.t.repaired, "re-linked window action "+Module+"."+w.XMLID+" to its search view")
	}
	return nil
}

// emptyListHelp is the HTML Odoo shows in place of an empty list.
func emptyListHelp(s string) string {
	return `<p class="o_view_nocontent_smiling_face">` + s + `</p>`
}

func (in *installer) serverAction(ctx context.Context, a ServerAction) error {
	modelID, err := in.odooModel(ctx, a.Model)
	if err != nil || modelID == 0 {
		return err
	}
	bound := true
	if a.Switch != "" {
		if bound, err = bindingWanted(ctx, in.tx, a.Switch); err != nil {
			return err
		}
	}
	binding := 0
	if bound {
		binding = modelID
	}
	id, _, err := upsertRecord(ctx, in.tx, record{xmlid: a.XMLID, model: "ir.actions.server", table: "ir_act_server", cols: []col{
		translated("name", a.NameEN, a.NameFR),
		text("type", "ir.actions.server"),
		text("binding_type", "action"),
		text("binding_view_types", "list,form"),
		ref("binding_model_id", binding),
		integer("model_id", modelID),
		text("model_name", a.Model),
		text("state", "code"),
		text("usage", "ir_actions_server"),
		text("code", a.Code()),
		integer("sequence", 5),
		integer("activity_date_deadline_range", 0),
		boolean("mail_post_autofollow", false),
	}}, in.md, in.t)
	if err != nil {
		return err
	}
	return ensureGroups(ctx, in.tx, "ir_act_server_group_rel", "act_id", "gid", id, a.Groups, in.t)
}

func (in *installer) menu(ctx context.Context, m Menu) error {
	action := ""
	if m.Action != "" {
		id := in.windows[m.Action]
		if id == 0 {
			return nil // its model is not registered: already warned
		}
		action = fmt.Sprintf("ir.actions.act_window,%d", id)
	}
	parent := 0
	if m.Parent != "" {
		if parent = in.menus[m.Parent]; parent == 0 {
			return nil
		}
	}
	id, o, err := upsertRecord(ctx, in.tx, record{xmlid: m.XMLID, model: "ir.ui.menu", table: "ir_ui_menu", cols: []col{
		translated("name", m.NameEN, m.NameFR),
		integer("sequence", m.Sequence),
		optional("action", action),
		boolean("active", true),
	}}, in.md, in.t)
	if err != nil {
		return err
	}
	in.menus[m.XMLID] = id
	// Odoo's _parent_store needs parent_path ("root/child/"); deleting a parent in
	// Odoo detaches its children, so the link is re-asserted even in a repair.
	tag, err := in.tx.Exec(ctx, `
		UPDATE ir_ui_menu m
		   SET parent_id = p.id, parent_path = COALESCE(p.parent_path, '') || m.id || '/'
		  FROM (SELECT $2::int4 AS wanted) w
		  LEFT JOIN ir_ui_menu p ON p.id = w.wanted
		 WHERE m.id = $1
		   AND (m.parent_id, m.parent_path) IS DISTINCT FROM (p.id, COALESCE(p.parent_path, '') || m.id || '/')`, id, parent)
	if err != nil {
		return fmt.Errorf("link menu %s to its parent: %w", m.XMLID, err)
	}
	if tag.RowsAffected() > 0 && o != created {
		in.t.add("ir_ui_menu", updated, "")
		if in.md == repairMissing {
			in.t.repaired = append(in.t.repaired, "re-attached menu "+Module+"."+m.XMLID+" to its parent")
		}
	}
	return ensureGroups(ctx, in.tx, "ir_ui_menu_group_rel", "menu_id", "gid", id, m.Groups, in.t)
}

func (in *installer) access(ctx context.Context, a Access) error {
	modelID, err := in.odooModel(ctx, a.Model)
	if err != nil || modelID == 0 {
		return err
	}
	group, err := xmlidRow(ctx, in.tx, a.Group, "res_groups")
	if err != nil {
		return err
	}
	if group == 0 {
		in.t.warn("access %s skipped: group %s not found", a.XMLID, a.Group)
		return nil
	}
	has := func(p byte) bool {
		for i := 0; i < len(a.Perms); i++ {
			if a.Perms[i] == p {
				return true
			}
		}
		return false
	}
	_, _, err = upsertRecord(ctx, in.tx, record{xmlid: a.XMLID, model: "ir.model.access", table: "ir_model_access", cols: []col{
		text("name", a.XMLID),
		integer("model_id", modelID),
		integer("group_id", group),
		boolean("active", true),
		boolean("perm_read", has('r')),
		boolean("perm_write", has('w')),
		boolean("perm_create", has('c')),
		boolean("perm_unlink", has('u')),
	}}, in.md, in.t)
	return err
}

// tableColumns returns the columns of a public table, nil when it does not exist.
func tableColumns(ctx context.Context, q pgx.Tx, table string) (map[string]bool, error) {
	rows, err := q.Query(ctx, `
		SELECT a.attname FROM pg_attribute a
		WHERE a.attrelid = to_regclass('public.' || quote_ident($1)) AND a.attnum > 0 AND NOT a.attisdropped`, table)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", table, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", table, err)
	}
	if len(names) == 0 {
		return nil, nil
	}
	columns := make(map[string]bool, len(names))
	for _, n := range names {
		columns[n] = true
	}
	return columns, nil
}

func hasColumn(ctx context.Context, q pgx.Tx, table, column string) (bool, error) {
	columns, err := tableColumns(ctx, q, table)
	return columns[column], err
}
