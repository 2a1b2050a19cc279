package actions

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify/texts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo"
)

// recordVars are the placeholders of the record the clicked message was about (an
// order or invoice), for send_message texts: {order_name}, {invoice_name},
// {amount} (the total, or what is left to pay on an invoice), ...
func (r *Runner) recordVars(ctx context.Context, c Click, p *Plan) (texts.Vars, error) {
	model, id, err := r.contextRecord(ctx, c.ContextID)
	if err != nil {
		return nil, err
	}
	switch model {
	case "sale.order":
		o, found, err := odoo.GetOrder(ctx, r.Pool, id)
		if err != nil || !found {
			return nil, err
		}
		p.about(model, id, o.Name)
		v := notify.OrderVars(c.Account.Settings, o)
		v["amount"] = v["amount_total"]
		return v, nil
	case "account.move":
		inv, found, err := odoo.GetInvoice(ctx, r.Pool, id)
		if err != nil || !found {
			return nil, err
		}
		p.about(model, id, inv.Name)
		v := notify.InvoiceVars(c.Account.Settings, inv, r.now())
		v["amount"] = v["amount_residual"]
		return v, nil
	}
	return nil, nil
}

// sendMessage answers with the action's text, its placeholders filled.
func (r *Runner) sendMessage(ctx context.Context, c Click, a Action, p *Plan) error {
	if strings.TrimSpace(a.Message) == "" {
		r.count(a.Type, OutcomeNotRun)
		r.logger().Warn("send_message action without a message", "action", a.Name)
		return nil
	}
	vars, err := r.recordVars(ctx, c, p)
	if err != nil {
		return err
	}
	lang := texts.French
	if c.Account != nil {
		lang = c.Account.Lang
	}
	p.reply("reply_message", p.record.Model, p.record.ID, texts.Render(lang, "", a.Message, merge(c.baseVars(), vars)))
	r.count(a.Type, OutcomeDone)
	return nil
}

// writableContactColumns are the res_partner columns a button may write: notes and
// descriptive fields an integrator sets from a click. Anything else (name, numbers,
// the company, active, the partner tree) changes who the customer is or where
// messages go, and is Odoo's to edit; x_ custom fields may be written too, except
// the sidecar's own x_whatsapp_* (opt-out above all).
var writableContactColumns = map[string]bool{
	"comment": true, "function": true, "ref": true, "website": true, "email": true, "lang": true,
}

// writableContactColumnsText says which columns may be written, for refusals.
const writableContactColumnsText = "comment, function, ref, website, email, lang and custom x_ fields other than x_whatsapp_*"

// contactColumnWritable says whether a button may write res_partner.field.
func contactColumnWritable(field string) bool {
	if writableContactColumns[field] {
		return true
	}
	return strings.HasPrefix(field, "x_") && !strings.HasPrefix(strings.ToLower(field), "x_whatsapp_")
}

// contactColumnType is the SQL type of a res_partner column.
const contactColumnType = `SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
WHERE a.attrelid = 'public.res_partner'::regclass AND a.attname = $1 AND a.attnum > 0 AND NOT a.attisdropped`

// activeLang says whether a language code is one Odoo has active, the values
// Odoo's lang selection accepts.
const activeLang = `SELECT EXISTS (SELECT 1 FROM res_lang WHERE code = $1 AND active)`

// updateContact writes the action's value into a field of the customer's partner,
// as the seed's update_contact and update_status did. The field must be one of
// writableContactColumns or a custom x_ field of res_partner; the value is cast to
// the column's type by PostgreSQL. A refused field or value is reported (log,
// metric, chatter) and does not spoil the rest of the click.
func (r *Runner) updateContact(ctx context.Context, c Click, a Action, p *Plan) error {
	field := strings.TrimSpace(a.ContactField)
	switch {
	case c.Partner == nil:
		r.report(c, a, p, "update_contact needs the customer's contact, and no partner has this number")
		return nil
	case field == "":
		r.report(c, a, p, "update_contact names no field (contact_field_to_update)")
		return nil
	case !contactColumnWritable(field):
		r.report(c, a, p, fmt.Sprintf("update_contact may not write res_partner.%s: a button may write only %s",
			field, writableContactColumnsText))
		return nil
	}
	var colType string
	err := r.Pool.QueryRow(ctx, contactColumnType, field).Scan(&colType)
	if errors.Is(err, pgx.ErrNoRows) {
		r.report(c, a, p, fmt.Sprintf("update_contact names res_partner.%s, a field res_partner does not have", field))
		return nil
	}
	if err != nil {
		return fmt.Errorf("look up res_partner.%s: %w", field, err)
	}
	if field == "lang" && a.ContactValue != "" {
		var active bool
		if err := r.Pool.QueryRow(ctx, activeLang, a.ContactValue).Scan(&active); err != nil {
			return fmt.Errorf("look up language %q: %w", a.ContactValue, err)
		}
		if !active {
			r.report(c, a, p, fmt.Sprintf("update_contact may not write res_partner.lang = %q: not an active language code in Odoo (res_lang)", a.ContactValue))
			return nil
		}
	}
	var value *string
	if v := a.ContactValue; v != "" {
		value = &v
	}
	partner := *c.Partner
	// The type comes from the catalog, the column name is quoted: nothing of the
	// row's text reaches the SQL but as a parameter.
	sql := `UPDATE res_partner SET ` + pgx.Identifier{field}.Sanitize() + ` = CAST($2 AS ` + colType + `),
		write_date = now() AT TIME ZONE 'utc', write_uid = $3 WHERE id = $1`
	p.add(func(ctx context.Context, tx pgx.Tx, e *effects) error {
		sp, err := tx.Begin(ctx)
		if err != nil {
			return err
		}
		if _, err := sp.Exec(ctx, sql, partner.ID, value, SuperUser); err != nil {
			_ = sp.Rollback(ctx)
			r.count(a.Type, OutcomeFailed)
			r.logger().Warn("update_contact action refused by the database", "action", a.Name, "field", field, "err", err)
			e.notes = append(e.notes, odoo.Note{Model: "res.partner", ResID: partner.ID, RecordName: partner.Name,
				BodyHTML: "<p>" + odoo.EscapeHTML(c.text("note_action_failed", merge(c.baseVars(),
					texts.Vars{"button": c.Title, "error": "res_partner." + field + ": " + err.Error()}))) + "</p>"})
			return nil
		}
		r.count(a.Type, OutcomeDone)
		return sp.Commit(ctx)
	})
	if strings.TrimSpace(a.Message) != "" {
		return r.sendMessage(ctx, c, a, p)
	}
	return nil
}

// createTicket creates a helpdesk ticket through Odoo's API (Enterprise's helpdesk
// module); without Odoo's API or that module, the click is reported.
func (r *Runner) createTicket(ctx context.Context, c Click, a Action, p *Plan) error {
	if r.Odoo == nil {
		r.report(c, a, p, "create_ticket needs Odoo's external API (ODOO_URL and credentials)")
		return nil
	}
	vals := map[string]any{
		"name":        fmt.Sprintf("Demande WhatsApp - %s", c.Phone.E164),
		"description": fmt.Sprintf("Clic WhatsApp « %s » (%s) de %s", c.Title, c.ButtonID, c.Name()),
	}
	if c.Partner != nil {
		vals["partner_id"] = c.Partner.ID
	}
	var ticketID int
	if err := r.Odoo.ExecuteKw(ctx, "helpdesk.ticket", "create", []any{vals}, nil, &ticketID); err != nil {
		if r.retryable(c, err) {
			return err
		}
		r.report(c, a, p, "helpdesk.ticket.create: "+err.Error())
		return nil
	}
	r.count(a.Type, OutcomeDone)
	if strings.TrimSpace(a.Message) != "" {
		return r.sendMessage(ctx, c, a, p)
	}
	return nil
}

// customPython reports a seed action that ran Python: the sidecar runs no code
// from the database. The log, the metric and a chatter note tell the user what to
// replace it with.
func (r *Runner) customPython(ctx context.Context, c Click, a Action, p *Plan) error {
	r.count(a.Type, OutcomeNotRun)
	r.logger().Warn("custom_python button action not run: the sidecar never executes code from the database",
		"action", a.Name, "button", c.ButtonID)
	model, id, err := r.contextRecord(ctx, c.ContextID)
	if err != nil {
		return err
	}
	text := c.text("note_custom_python", texts.Vars{"action": a.Name, "button": c.ButtonID})
	switch {
	case (model == "sale.order" || model == "account.move") && id != 0:
		p.note(model, id, "", text)
	case c.Partner != nil:
		p.note("res.partner", c.Partner.ID, c.Partner.Name, text)
	}
	return nil
}

// report tells Odoo users an action could not run: log, metric, and a note on the
// record the click was about, else on the customer's partner.
func (r *Runner) report(c Click, a Action, p *Plan, why string) {
	r.count(a.Type, OutcomeNotRun)
	r.logger().Warn("button action not run", "action", a.Name, "type", a.Type, "button", c.ButtonID, "why", why)
	text := c.text("note_action_failed", merge(c.baseVars(), texts.Vars{"button": c.Title, "error": why}))
	switch {
	case p.record.Model != "":
		p.note(p.record.Model, p.record.ID, p.record.Name, text)
	case c.Partner != nil:
		p.note("res.partner", c.Partner.ID, c.Partner.Name, text)
	}
}

// odooMethod calls model.method([id]) through Odoo's external API, so Odoo's own
// business rules run. sale.order's action_confirm and action_cancel are the
// built-in validate and cancel (customer flag, clear answers, the seed's fallback
// without the API).
func (r *Runner) odooMethod(ctx context.Context, c Click, a Action, p *Plan) error {
	model, method := strings.TrimSpace(a.OdooModel), strings.TrimSpace(a.OdooMethod)
	if model == "" {
		model = "sale.order"
	}
	if model == "sale.order" && (method == "action_confirm" || method == "action_cancel") {
		return r.orderDecision(ctx, c, a, p, method == "action_confirm")
	}
	if method == "" || strings.HasPrefix(method, "_") {
		// Odoo refuses private methods remotely anyway; say so before trying.
		r.report(c, a, p, fmt.Sprintf("odoo_method %q of %s cannot be called", method, model))
		return nil
	}
	id, err := r.resolve(ctx, c, a, model, "")
	if err != nil {
		return err
	}
	if m, rid, err := r.contextRecord(ctx, c.ContextID); err != nil {
		return err
	} else if m == model && rid == id {
		p.about(model, id, "")
	}
	if r.Odoo == nil {
		r.report(c, a, p, fmt.Sprintf("%s.%s needs Odoo's external API (ODOO_URL and credentials)", model, method))
		return nil
	}
	args := []any{}
	if id != 0 {
		args = append(args, []int{id})
	}
	if err := r.Odoo.ExecuteKw(ctx, model, method, args, nil, nil); err != nil {
		if r.retryable(c, err) {
			return err
		}
		r.report(c, a, p, err.Error())
		return nil
	}
	r.count(a.Type, OutcomeDone)
	if strings.TrimSpace(a.Message) != "" {
		return r.sendMessage(ctx, c, a, p)
	}
	return nil
}
