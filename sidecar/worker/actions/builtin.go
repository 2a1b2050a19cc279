package actions

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify/texts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo"
)

// orderDecision is the customer confirming (Valider) or cancelling (Annuler) an
// order. Only a quotation (draft or sent) changes; an order already confirmed or
// cancelled gets a clear answer and no second change, so double clicks and late
// clicks are harmless. The x_whatsapp_validated / x_whatsapp_rejected flag is set
// with the state (before Odoo's call when Odoo makes the change), so the composer
// knows the customer was already answered and sends no generic "confirmed" message.
func (r *Runner) orderDecision(ctx context.Context, c Click, a Action, p *Plan, confirm bool) error {
	o, err := r.order(ctx, c, a, p, "open_order")
	if err != nil || o == nil {
		return err
	}
	vars := merge(c.baseVars(), notify.OrderVars(c.Account.Settings, o))
	if key := settled(o.State, confirm); key != "" {
		r.count(a.Type, OutcomeAlready)
		p.reply(key, "sale.order", o.ID, c.text(key, vars))
		return nil
	}
	done, failed, noteKey := "reply_order_validated", "reply_order_confirm_failed", "note_order_confirmed"
	method := "confirm"
	if !confirm {
		done, failed, noteKey, method = "reply_order_cancelled", "reply_order_cancel_failed", "note_order_cancelled", "cancel"
	}
	if r.Odoo != nil {
		err := r.odooDecision(ctx, o.ID, confirm)
		if err == nil {
			r.count(a.Type, OutcomeDone)
			p.reply(done, "sale.order", o.ID, c.text(done, vars))
			p.note("sale.order", o.ID, o.Name, c.text(noteKey, vars))
			return nil
		}
		if r.retryable(c, err) {
			return err
		}
		// Odoo refused (or never answered): the state may still have changed
		// meanwhile (another click, a salesperson); say what is true now.
		if o2, ok, rerr := odoo.GetOrder(ctx, r.Pool, o.ID); rerr == nil && ok {
			if key := settled(o2.State, confirm); key != "" {
				r.count(a.Type, OutcomeAlready)
				p.reply(key, "sale.order", o.ID, c.text(key, vars))
				return nil
			}
		}
		r.count(a.Type, OutcomeFailed)
		r.logger().Warn("Odoo refused the customer's click", "order", o.Name, "action", method, "err", err)
		p.reply(failed, "sale.order", o.ID, c.text(failed, vars))
		p.note("sale.order", o.ID, o.Name, c.text("note_action_failed", merge(vars, texts.Vars{"button": c.Title, "error": err.Error()})))
		return nil
	}
	// No Odoo API: the seed's behaviour, the state written as Odoo's ORM writes it,
	// in the transaction that records the click.
	p.add(func(ctx context.Context, tx pgx.Tx, e *effects) error {
		changed, state, err := writeOrderDecision(ctx, tx, o.ID, confirm)
		if err != nil {
			return err
		}
		if !changed {
			key := settled(state, confirm)
			if key == "" {
				key = failed
			}
			r.count(a.Type, OutcomeAlready)
			m := p.message(key, "sale.order", o.ID)
			m.Content = c.text(key, vars)
			e.replies = append(e.replies, m)
			return nil
		}
		r.count(a.Type, OutcomeBypassedRules)
		r.logger().Warn("order state written directly: Odoo's business rules did not run (set ODOO_URL and credentials)",
			"order", o.Name, "action", "action_"+method)
		m := p.message(done, "sale.order", o.ID)
		m.Content = c.text(done, vars)
		e.replies = append(e.replies, m)
		for _, key := range []string{noteKey, "note_rules_bypassed"} {
			e.notes = append(e.notes, odoo.Note{Model: "sale.order", ResID: o.ID, RecordName: o.Name,
				BodyHTML: "<p>" + odoo.EscapeHTML(c.text(key, merge(vars, texts.Vars{"method": method}))) + "</p>"})
		}
		return nil
	})
	return nil
}

// settled is the answer to a click that changes nothing: the order is already where
// the customer wants it, or past the point where a click may change it.
func settled(state string, confirm bool) string {
	switch {
	case confirm && (state == "sale" || state == "done"):
		return "reply_order_already_confirmed"
	case state == "cancel":
		return "reply_order_already_cancelled"
	case !confirm && (state == "sale" || state == "done"):
		return "reply_order_not_cancellable"
	}
	return ""
}

// writeOrderDecision changes a quotation's state as Odoo 16's ORM does (orm_trace:
// action_confirm writes date_order, state, write_date, write_uid; action_cancel
// state, write_date, write_uid), with the customer's flag, in one statement that
// only touches a draft or sent quotation. It returns the state when nothing changed.
func writeOrderDecision(ctx context.Context, tx pgx.Tx, id int, confirm bool) (changed bool, state string, err error) {
	sql := `UPDATE sale_order SET state = 'sale', date_order = date_trunc('second', now() AT TIME ZONE 'utc'),
		x_whatsapp_validated = true, write_date = now() AT TIME ZONE 'utc', write_uid = $2
		WHERE id = $1 AND state IN ('draft', 'sent')`
	if !confirm {
		sql = `UPDATE sale_order SET state = 'cancel', x_whatsapp_rejected = true,
			write_date = now() AT TIME ZONE 'utc', write_uid = $2
			WHERE id = $1 AND state IN ('draft', 'sent')`
	}
	tag, err := tx.Exec(ctx, sql, id, SuperUser)
	if err != nil {
		return false, "", fmt.Errorf("write order %d state: %w", id, err)
	}
	if tag.RowsAffected() == 1 {
		return true, "", nil
	}
	if err := tx.QueryRow(ctx, `SELECT state FROM sale_order WHERE id = $1`, id).Scan(&state); err != nil {
		return false, "", fmt.Errorf("read order %d state: %w", id, err)
	}
	return false, state, nil
}

// odooDecision sets the customer's flag, then asks Odoo to confirm or cancel, so
// Odoo's rules run (stock, invoicing policy, its own checks); the flag is put back
// when Odoo refuses. The flag goes first because the capture trigger fires in
// Odoo's transaction and the composer must see it.
func (r *Runner) odooDecision(ctx context.Context, id int, confirm bool) error {
	flag, method := "x_whatsapp_validated", "action_confirm"
	kwargs := map[string]any{}
	if !confirm {
		flag, method = "x_whatsapp_rejected", "action_cancel"
		// Odoo 16 answers a cancel of a sent quotation with a wizard unless told not to.
		kwargs["context"] = map[string]any{"disable_cancel_warning": true}
	}
	var previous *bool
	err := odoo.WithLockTimeout(ctx, r.Pool, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `UPDATE sale_order o SET `+flag+` = true
			FROM (SELECT id, `+flag+` AS old FROM sale_order WHERE id = $1 FOR UPDATE) prev
			WHERE o.id = prev.id RETURNING prev.old`, id).Scan(&previous)
	})
	if err != nil {
		return fmt.Errorf("flag order %d: %w", id, err)
	}
	callErr := r.Odoo.ExecuteKw(ctx, "sale.order", method, []any{[]int{id}}, kwargs, nil)
	if callErr == nil {
		return nil
	}
	if err := odoo.WithLockTimeout(context.WithoutCancel(ctx), r.Pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE sale_order SET `+flag+` = $2 WHERE id = $1`, id, previous)
		return err
	}); err != nil {
		r.logger().Warn("putting back an order's WhatsApp flag after Odoo refused", "order", id, "err", err)
	}
	return callErr
}

// orderDetails sends the order's lines, quantities and amounts (Voir détail).
func (r *Runner) orderDetails(ctx context.Context, c Click, a Action, p *Plan) error {
	o, err := r.order(ctx, c, a, p, "order")
	if err != nil || o == nil {
		return err
	}
	lines, err := odoo.OrderLines(ctx, r.Pool, o.ID)
	if err != nil {
		return err
	}
	details := notify.OrderDetails(c.Account.Settings, o, lines)
	m := p.message("reply_order_details", "sale.order", o.ID)
	m.Content, m.Params = details.Content, details.Params
	at := c.At
	p.add(func(ctx context.Context, tx pgx.Tx, e *effects) error {
		if _, err := tx.Exec(ctx, `UPDATE sale_order SET x_whatsapp_details_sent = true, x_whatsapp_details_sent_date = $2
			WHERE id = $1`, o.ID, at.UTC()); err != nil {
			return fmt.Errorf("flag order %d details sent: %w", o.ID, err)
		}
		e.replies = append(e.replies, m)
		return nil
	})
	r.count(a.Type, OutcomeDone)
	return nil
}

// order reads the order a click is about, checking it is the customer's; nil (and
// a "not found" answer planned) when it is missing or someone else's.
func (r *Runner) order(ctx context.Context, c Click, a Action, p *Plan, latest string) (*notify.Order, error) {
	id, err := r.resolve(ctx, c, a, "sale.order", latest)
	if err != nil {
		return nil, err
	}
	o, found, err := odoo.GetOrder(ctx, r.Pool, id)
	if err != nil {
		return nil, err
	}
	if found {
		if found, err = r.owns(ctx, c, "sale.order", o.ID, o.Partner); err != nil {
			return nil, err
		}
	}
	if !found {
		r.notFound(c, a, p, "sale.order", id)
		return nil, nil
	}
	p.about("sale.order", o.ID, o.Name)
	return o, nil
}

// invoice reads the invoice a click is about, checking it is the customer's.
func (r *Runner) invoice(ctx context.Context, c Click, a Action, p *Plan, latest string) (*notify.Invoice, error) {
	id, err := r.resolve(ctx, c, a, "account.move", latest)
	if err != nil {
		return nil, err
	}
	inv, found, err := odoo.GetInvoice(ctx, r.Pool, id)
	if err != nil {
		return nil, err
	}
	if found {
		found = inv.State == "posted" && (inv.MoveType == "out_invoice" || inv.MoveType == "out_refund")
	}
	if found {
		if found, err = r.owns(ctx, c, "account.move", inv.ID, inv.Partner); err != nil {
			return nil, err
		}
	}
	if !found {
		r.notFound(c, a, p, "account.move", id)
		return nil, nil
	}
	p.about("account.move", inv.ID, inv.Name)
	return inv, nil
}

// invoicePDF queues the invoice as a document intent: the sender finds Odoo's PDF
// (or renders one), uploads it and sends it by media id.
func (r *Runner) invoicePDF(ctx context.Context, c Click, a Action, p *Plan) error {
	inv, err := r.invoice(ctx, c, a, p, "invoice")
	if err != nil || inv == nil {
		return err
	}
	doc := notify.InvoiceDocument(c.Account.Settings, inv, notify.KindInvoicePDF, r.now())
	m := p.message(notify.KindInvoicePDF, "account.move", inv.ID)
	m.Type, m.Caption, m.Content, m.MimeType, m.Params = doc.Type, doc.Caption, doc.Content, doc.MimeType, doc.Params
	p.add(func(_ context.Context, _ pgx.Tx, e *effects) error {
		e.replies = append(e.replies, m)
		return nil
	})
	r.count(a.Type, OutcomeDone)
	return nil
}

type provider struct {
	name, key string
	text      func(c Click) (enabled bool, text string)
}

var (
	wave = provider{name: "Wave", key: "reply_payment_wave", text: func(c Click) (bool, string) {
		return c.Account.PaymentWave, strings.TrimSpace(c.Account.WaveText)
	}}
	orange = provider{name: "Orange Money", key: "reply_payment_orange", text: func(c Click) (bool, string) {
		return c.Account.PaymentOrange, strings.TrimSpace(c.Account.OrangeText)
	}}
)

// payment answers a "pay with" click with the account's payment instructions for
// the amount still due. The configured text is either a payment link (one URL,
// whose {amount}, {invoice_name} and {reference} are filled in, URL-escaped) put
// into the built-in sentence, or a whole text with the invoice's placeholders.
func (r *Runner) payment(ctx context.Context, c Click, a Action, p *Plan, pr provider) error {
	inv, err := r.invoice(ctx, c, a, p, "unpaid")
	if err != nil || inv == nil {
		return err
	}
	vars := merge(c.baseVars(), notify.InvoiceVars(c.Account.Settings, inv, r.now()), texts.Vars{
		"provider": pr.name,
		"amount":   inv.Residual.FloatString(max(inv.Currency.Decimals, 0)),
	})
	if inv.Residual.Sign() <= 0 {
		r.count(a.Type, OutcomeAlready)
		p.reply("reply_invoice_already_paid", "account.move", inv.ID, c.text("reply_invoice_already_paid", vars))
		return nil
	}
	enabled, configured := pr.text(c)
	var text string
	switch {
	case !enabled || configured == "":
		r.count(a.Type, OutcomeNotRun)
		text = c.text("reply_payment_unavailable", vars)
	case isLink(configured):
		vars["payment_link"] = fillLink(configured, vars)
		text = c.text(pr.key, vars)
		r.count(a.Type, OutcomeDone)
	default:
		text = texts.Render(c.Account.Lang, "", configured, vars)
		r.count(a.Type, OutcomeDone)
	}
	p.reply(pr.key, "account.move", inv.ID, text)
	return nil
}

func isLink(s string) bool {
	return (strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")) && !strings.ContainsAny(s, " \n\t")
}

// fillLink puts the amount due and the invoice reference into a payment link.
func fillLink(link string, vars texts.Vars) string {
	escaped := texts.Vars{
		"amount":       url.QueryEscape(vars["amount"]),
		"invoice_name": url.QueryEscape(vars["invoice_name"]),
		"reference":    url.QueryEscape(vars["invoice_name"]),
	}
	return texts.Render(texts.French, "", link, escaped)
}
