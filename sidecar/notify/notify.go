// Package notify says what each notification is: from an Odoo record (the plain
// values of record.go) and the settings of the account that sends it, the message to
// queue (text, reply buttons with the seed module's ids, document caption, template
// parameters). It is a leaf: it reads nothing, sends nothing and imports neither
// the database nor Odoo's rows, so every text can be tested alone. The composer, the
// sender (for rows queued as intents by Odoo) and the webhook's button actions all
// build their messages here.
package notify

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify/texts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/phone"
)

// Kinds of notification (whatsapp_message.kind).
const (
	KindOrderCreated    = "order_created"
	KindOrderSummary    = "order_summary" // "Envoyer par WhatsApp" on an order
	KindOrderConfirmed  = "order_confirmed"
	KindOrderCancelled  = "order_cancelled"
	KindOrderDetails    = "order_details"
	KindInvoicePosted   = "invoice_posted"  // the PDF
	KindInvoiceButtons  = "invoice_buttons" // pay / download buttons after the PDF
	KindInvoicePDF      = "invoice_pdf"     // the PDF on request
	KindInvoiceResidual = "invoice_residual"
	KindInvoicePaid     = "invoice_paid"
	KindInvoiceReminder = "invoice_reminder"
)

// Settings are what an account decides about its messages: the language, the
// texts overridden in whatsapp_config's text_* columns, and the payment buttons.
type Settings struct {
	ConfigID int // whatsapp_config.id the messages are sent from; 0 for the environment's
	Lang     texts.Lang
	// Texts overrides the built-in texts by key (order_created, invoice_paid, ...).
	Texts map[string]string

	PaymentWave   bool
	WaveText      string
	PaymentOrange bool
	OrangeText    string
}

// Text renders the text for key with the account's override and language.
func (a Settings) Text(key string, vars texts.Vars) string {
	return texts.Render(a.Lang, key, a.Texts[key], vars)
}

// Message is one message to a customer: who, about what, and what it says. The
// outbox queues it as a whatsapp_message row.
type Message struct {
	ConfigID    int
	ContactID   int
	ContactName string
	Phone       string // raw as Odoo holds it, or E.164; normalised at send time

	// What the message is about: (ResModel, ResID, Kind).
	ResModel string
	ResID    int
	Kind     string

	Type     string // text, interactive, document, image, template, ...; empty: text
	Content  string // body text
	Caption  string
	Buttons  []Button
	MimeType string
	Params   map[string]string // the values the content was rendered from
}

// Button is a reply button of an interactive message.
type Button struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// Button id prefixes: the seed module's own, so its button actions keep working.
const (
	ButtonValidateOrder   = "btn_validate_order_"
	ButtonCancelOrder     = "btn_cancel_order_"
	ButtonOrderDetails    = "btn_view_order_details_"
	ButtonPayWave         = "btn_pay_wave_"
	ButtonPayOrange       = "btn_pay_orange_"
	ButtonDownloadInvoice = "btn_download_invoice_"
)

// TemplateParams lists, per kind, the values a positional template's body takes, in
// order ({{1}} is the first). A template with a single body parameter gets the whole
// rendered text instead (the seed's template_invoice_id convention).
var TemplateParams = map[string][]string{
	KindOrderCreated:    {"partner_name", "order_name", "amount_total"},
	KindOrderSummary:    {"partner_name", "order_name", "amount_total"},
	KindOrderConfirmed:  {"partner_name", "order_name", "amount_total"},
	KindOrderCancelled:  {"partner_name", "order_name"},
	KindInvoicePosted:   {"partner_name", "invoice_name", "amount_total", "due_date"},
	KindInvoiceButtons:  {"partner_name", "invoice_name", "amount_total"},
	KindInvoiceResidual: {"partner_name", "invoice_name", "amount_paid", "amount_residual"},
	KindInvoicePaid:     {"partner_name", "invoice_name", "amount_total"},
	KindInvoiceReminder: {"partner_name", "invoice_name", "amount_residual", "due_date"},
}

// OrderVars are an order's placeholders.
func OrderVars(a Settings, o *Order) texts.Vars {
	return texts.Vars{
		"partner_name":   o.Partner.Name,
		"order_name":     o.Name,
		"amount_total":   texts.Money(o.Total, o.Currency, a.Lang),
		"amount_untaxed": texts.Money(o.Untaxed, o.Currency, a.Lang),
		"amount_tax":     texts.Money(o.Tax, o.Currency, a.Lang),
		"company_name":   o.Company.Name,
	}
}

// InvoiceVars are an invoice's placeholders, `today` deciding the days overdue.
func InvoiceVars(a Settings, m *Invoice, today time.Time) texts.Vars {
	v := texts.Vars{
		"partner_name":    m.Partner.Name,
		"invoice_name":    m.Name,
		"amount_total":    texts.Money(m.Total, m.Currency, a.Lang),
		"amount_untaxed":  texts.Money(m.Untaxed, m.Currency, a.Lang),
		"amount_tax":      texts.Money(m.Tax, m.Currency, a.Lang),
		"amount_residual": texts.Money(m.Residual, m.Currency, a.Lang),
		"due_date":        texts.Date(m.DueDate, a.Lang),
		"invoice_date":    texts.Date(m.InvoiceDate, a.Lang),
		"origin":          m.Origin,
		"company_name":    m.Company.Name,
		"days_overdue":    "0",
	}
	if due, err := time.Parse(time.DateOnly, m.DueDate); err == nil {
		if days := int(today.Sub(due).Hours() / 24); days > 0 {
			v["days_overdue"] = strconv.Itoa(days)
		}
	}
	return v
}

func base(a Settings, p Partner, model string, resID int, kind string) Message {
	return Message{
		ConfigID: a.ConfigID, ContactID: p.ID, ContactName: p.Name, Phone: p.Number(),
		ResModel: model, ResID: resID, Kind: kind,
	}
}

func button(a Settings, prefix string, id int, titleKey string) Button {
	return Button{ID: prefix + strconv.Itoa(id), Title: texts.Get(a.Lang, titleKey)}
}

// OrderCreated is the seed's creation message: text and Valider / Annuler / Voir
// détail. kind is KindOrderCreated or KindOrderSummary (same message, on request).
func OrderCreated(a Settings, o *Order, kind string) Message {
	vars := OrderVars(a, o)
	m := base(a, o.Partner, "sale.order", o.ID, kind)
	m.Type = "interactive"
	m.Content = a.Text(kind, vars)
	m.Buttons = []Button{
		button(a, ButtonValidateOrder, o.ID, "button_validate"),
		button(a, ButtonCancelOrder, o.ID, "button_cancel"),
		button(a, ButtonOrderDetails, o.ID, "button_details"),
	}
	m.Params = vars
	return m
}

// OrderSummary is the order sent on request ("Envoyer par WhatsApp"), as fits its
// state: a quotation with Valider / Annuler / Voir détail, a confirmed order with
// Voir détail only (there is nothing left to validate), a cancelled one as a text.
func OrderSummary(a Settings, o *Order) Message {
	switch o.State {
	case "sale", "done":
		vars := OrderVars(a, o)
		m := base(a, o.Partner, "sale.order", o.ID, KindOrderSummary)
		m.Type = "interactive"
		m.Content = a.Text("order_summary_confirmed", vars)
		m.Buttons = []Button{button(a, ButtonOrderDetails, o.ID, "button_details")}
		m.Params = vars
		return m
	case "cancel":
		vars := OrderVars(a, o)
		m := base(a, o.Partner, "sale.order", o.ID, KindOrderSummary)
		m.Content = a.Text("order_summary_cancelled", vars)
		m.Params = vars
		return m
	}
	return OrderCreated(a, o, KindOrderSummary)
}

// OrderState is the message for an order confirmed (state sale) or cancelled.
func OrderState(a Settings, o *Order, kind string) Message {
	vars := OrderVars(a, o)
	m := base(a, o.Partner, "sale.order", o.ID, kind)
	m.Content = a.Text(kind, vars)
	m.Params = vars
	return m
}

// OrderDetails lists an order's lines and totals (the "Voir détail" button).
func OrderDetails(a Settings, o *Order, lines []Line) Message {
	vars := OrderVars(a, o)
	var b strings.Builder
	for i, l := range lines {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(texts.Render(a.Lang, "order_line", "", texts.Vars{
			"product":    l.Name,
			"quantity":   quantity(l.Quantity) + unit(l.UoM),
			"price_unit": texts.Money(l.PriceUnit, o.Currency, a.Lang),
			"subtotal":   texts.Money(l.Subtotal, o.Currency, a.Lang),
		}))
	}
	if len(lines) == 0 {
		b.WriteString(texts.Get(a.Lang, "order_no_lines"))
	}
	vars["lines"] = b.String()
	m := base(a, o.Partner, "sale.order", o.ID, KindOrderDetails)
	m.Content = truncate(a.Text(KindOrderDetails, vars), 4096)
	m.Params = vars
	return m
}

func quantity(q *big.Rat) string {
	if q.IsInt() {
		return q.Num().String()
	}
	return strings.TrimRight(strings.TrimRight(q.FloatString(3), "0"), ".")
}

func unit(uom string) string {
	if uom == "" || uom == "Units" || uom == "Unité(s)" {
		return ""
	}
	return " " + uom
}

// InvoiceDocument is the invoice (or credit note) PDF with its caption; the sender
// finds or renders the PDF and uploads it.
func InvoiceDocument(a Settings, inv *Invoice, kind string, today time.Time) Message {
	vars := InvoiceVars(a, inv, today)
	m := base(a, inv.Partner, "account.move", inv.ID, kind)
	m.Type = "document"
	key := KindInvoicePosted
	if inv.MoveType == "out_refund" {
		key = "refund_posted"
	}
	if kind == KindInvoicePDF {
		key = KindInvoicePDF
	}
	m.Caption = truncate(texts.Render(a.Lang, key, a.Texts[key], vars), 1024)
	m.Content = m.Caption
	m.MimeType = "application/pdf"
	m.Params = vars
	return m
}

// InvoiceButtons follows the PDF, as in the seed: pay with Wave, pay with Orange
// Money (each when the account offers it) and download.
func InvoiceButtons(a Settings, inv *Invoice, today time.Time) Message {
	vars := InvoiceVars(a, inv, today)
	m := base(a, inv.Partner, "account.move", inv.ID, KindInvoiceButtons)
	m.Type = "interactive"
	m.Content = a.Text(KindInvoiceButtons, vars)
	m.Buttons = invoiceButtons(a, inv.ID)
	m.Params = vars
	return m
}

func invoiceButtons(a Settings, id int) []Button {
	var buttons []Button
	if a.PaymentWave {
		buttons = append(buttons, button(a, ButtonPayWave, id, "button_pay_wave"))
	}
	if a.PaymentOrange {
		buttons = append(buttons, button(a, ButtonPayOrange, id, "button_pay_orange"))
	}
	return append(buttons, button(a, ButtonDownloadInvoice, id, "button_download"))
}

// InvoiceResidual tells a payment was received: what was paid and what is left, or
// that the invoice is paid in full.
func InvoiceResidual(a Settings, inv *Invoice, oldResidual *big.Rat, today time.Time) Message {
	vars := InvoiceVars(a, inv, today)
	kind := KindInvoiceResidual
	if inv.Residual.Sign() <= 0 {
		kind = KindInvoicePaid
	}
	paid := new(big.Rat).Sub(oldResidual, inv.Residual)
	vars["amount_paid"] = texts.Money(paid, inv.Currency, a.Lang)
	m := base(a, inv.Partner, "account.move", inv.ID, kind)
	m.Content = a.Text(kind, vars)
	m.Params = vars
	return m
}

// InvoiceReminder asks to pay an overdue invoice, with the pay and download buttons.
func InvoiceReminder(a Settings, inv *Invoice, today time.Time) Message {
	vars := InvoiceVars(a, inv, today)
	m := base(a, inv.Partner, "account.move", inv.ID, KindInvoiceReminder)
	m.Type = "interactive"
	m.Content = a.Text(KindInvoiceReminder, vars)
	m.Buttons = invoiceButtons(a, inv.ID)
	m.Params = vars
	return m
}

// IDFromButton returns the record id a button id carries after prefix.
func IDFromButton(buttonID, prefix string) (int, bool) {
	rest, ok := strings.CutPrefix(buttonID, prefix)
	if !ok {
		return 0, false
	}
	id, err := strconv.Atoi(rest)
	return id, err == nil && id > 0
}

func truncate(s string, max int) string {
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max-1]) + "…"
}

// NoNumberError is the message recorded on a notification whose partner, name, has
// no usable WhatsApp number: none at all, or number, which phone.Normalize refused
// with err.
func NoNumberError(name, number string, err error) string {
	if number == "" || err == nil {
		return fmt.Sprintf("%s has no mobile or phone number: add one on the contact, then send again", name)
	}
	reason := err.Error()
	if pe, ok := errors.AsType[*phone.Error](err); ok {
		reason = pe.Reason
	}
	return fmt.Sprintf("%s's number %q cannot receive WhatsApp messages (%s): correct it on the contact, then send again", name, number, reason)
}
