// Package odoo reads and writes Odoo 16's own rows the way its ORM does: orders,
// invoices, partners and currencies read after commit (final names and amounts), the
// sidecar's x_whatsapp_* flags written in short statements under a lock timeout, and
// chatter notes as message_post writes them. It knows Odoo's tables, nothing of
// WhatsApp.
package odoo

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify"
)

// DBTX is a pool, a connection or a transaction.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// parseAmount reads a numeric's text form; NULL and junk read as zero.
func parseAmount(s *string) *big.Rat {
	r := new(big.Rat)
	if s != nil {
		if _, ok := r.SetString(*s); !ok {
			r.SetInt64(0)
		}
	}
	return r
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// partnerColumns selects a partner p, its country and opt-out flag.
const partnerColumns = `p.id, COALESCE(p.name, ''), COALESCE(p.mobile, ''), COALESCE(p.phone, ''),
	COALESCE(pc.code, ''), COALESCE(p.x_whatsapp_opt_out, false)`

const companyColumns = `co.id, co.name, COALESCE(cc.code, '')`

const currencyColumns = `cur.id, cur.name, cur.symbol, COALESCE(cur.position, 'after'), COALESCE(cur.decimal_places, 2)`

const ordersQuery = `
SELECT o.id, o.name, COALESCE(o.state, 'draft'),
       ` + companyColumns + `, ` + partnerColumns + `, ` + currencyColumns + `,
       o.amount_untaxed::text, o.amount_tax::text, o.amount_total::text,
       COALESCE(o.x_whatsapp_validated, false), COALESCE(o.x_whatsapp_rejected, false)
FROM sale_order o
JOIN res_partner p ON p.id = o.partner_id
LEFT JOIN res_country pc ON pc.id = p.country_id
JOIN res_company co ON co.id = o.company_id
LEFT JOIN res_partner cp ON cp.id = co.partner_id
LEFT JOIN res_country cc ON cc.id = cp.country_id
JOIN res_currency cur ON cur.id = COALESCE(o.currency_id, co.currency_id)
WHERE o.id = ANY($1)`

// Orders reads the orders with the given ids; missing ids are absent from the map.
func Orders(ctx context.Context, q DBTX, ids []int) (map[int]*notify.Order, error) {
	rows, err := q.Query(ctx, ordersQuery, ids)
	if err != nil {
		return nil, fmt.Errorf("read orders: %w", err)
	}
	defer rows.Close()
	out := make(map[int]*notify.Order, len(ids))
	for rows.Next() {
		o := &notify.Order{}
		var untaxed, tax, total *string
		if err := rows.Scan(&o.ID, &o.Name, &o.State,
			&o.Company.ID, &o.Company.Name, &o.Company.Country,
			&o.Partner.ID, &o.Partner.Name, &o.Partner.Mobile, &o.Partner.Phone, &o.Partner.Country, &o.Partner.OptOut,
			&o.Currency.ID, &o.Currency.Name, &o.Currency.Symbol, &o.Currency.Position, &o.Currency.Decimals,
			&untaxed, &tax, &total, &o.Validated, &o.Rejected); err != nil {
			return nil, fmt.Errorf("read orders: %w", err)
		}
		o.Untaxed, o.Tax, o.Total = parseAmount(untaxed), parseAmount(tax), parseAmount(total)
		out[o.ID] = o
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read orders: %w", err)
	}
	return out, nil
}

const invoicesQuery = `
SELECT m.id, COALESCE(m.name, '/'), m.state, m.move_type, COALESCE(m.payment_state, ''), COALESCE(m.invoice_origin, ''),
       COALESCE(to_char(m.invoice_date, 'YYYY-MM-DD'), ''), COALESCE(to_char(m.invoice_date_due, 'YYYY-MM-DD'), ''),
       ` + companyColumns + `, ` + partnerColumns + `, ` + currencyColumns + `,
       m.amount_untaxed::text, m.amount_tax::text, m.amount_total::text, m.amount_residual::text,
       COALESCE(m.x_whatsapp_unpaid_reminder_count, 0)
FROM account_move m
JOIN res_partner p ON p.id = m.partner_id
LEFT JOIN res_country pc ON pc.id = p.country_id
JOIN res_company co ON co.id = m.company_id
LEFT JOIN res_partner cp ON cp.id = co.partner_id
LEFT JOIN res_country cc ON cc.id = cp.country_id
JOIN res_currency cur ON cur.id = m.currency_id
WHERE m.id = ANY($1)`

// Invoices reads the moves with the given ids; missing ids (or moves without a
// partner) are absent from the map.
func Invoices(ctx context.Context, q DBTX, ids []int) (map[int]*notify.Invoice, error) {
	rows, err := q.Query(ctx, invoicesQuery, ids)
	if err != nil {
		return nil, fmt.Errorf("read invoices: %w", err)
	}
	defer rows.Close()
	out := make(map[int]*notify.Invoice, len(ids))
	for rows.Next() {
		m := &notify.Invoice{}
		var untaxed, tax, total, residual *string
		if err := rows.Scan(&m.ID, &m.Name, &m.State, &m.MoveType, &m.PaymentState, &m.Origin,
			&m.InvoiceDate, &m.DueDate,
			&m.Company.ID, &m.Company.Name, &m.Company.Country,
			&m.Partner.ID, &m.Partner.Name, &m.Partner.Mobile, &m.Partner.Phone, &m.Partner.Country, &m.Partner.OptOut,
			&m.Currency.ID, &m.Currency.Name, &m.Currency.Symbol, &m.Currency.Position, &m.Currency.Decimals,
			&untaxed, &tax, &total, &residual, &m.ReminderCount); err != nil {
			return nil, fmt.Errorf("read invoices: %w", err)
		}
		m.Untaxed, m.Tax, m.Total, m.Residual = parseAmount(untaxed), parseAmount(tax), parseAmount(total), parseAmount(residual)
		out[m.ID] = m
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read invoices: %w", err)
	}
	return out, nil
}

// GetOrder reads one order; found is false when it does not exist.
func GetOrder(ctx context.Context, q DBTX, id int) (order *notify.Order, found bool, err error) {
	orders, err := Orders(ctx, q, []int{id})
	if err != nil {
		return nil, false, err
	}
	order, found = orders[id]
	return order, found, nil
}

// GetInvoice reads one invoice; found is false when it does not exist.
func GetInvoice(ctx context.Context, q DBTX, id int) (invoice *notify.Invoice, found bool, err error) {
	invoices, err := Invoices(ctx, q, []int{id})
	if err != nil {
		return nil, false, err
	}
	invoice, found = invoices[id]
	return invoice, found, nil
}

const partnerQuery = `
SELECT ` + partnerColumns + `
FROM res_partner p LEFT JOIN res_country pc ON pc.id = p.country_id
WHERE p.id = $1`

// GetPartner reads one partner; found is false when it does not exist.
func GetPartner(ctx context.Context, q DBTX, id int) (partner notify.Partner, found bool, err error) {
	err = q.QueryRow(ctx, partnerQuery, id).Scan(&partner.ID, &partner.Name, &partner.Mobile, &partner.Phone, &partner.Country, &partner.OptOut)
	if errors.Is(err, pgx.ErrNoRows) {
		return notify.Partner{}, false, nil
	}
	if err != nil {
		return notify.Partner{}, false, fmt.Errorf("read partner %d: %w", id, err)
	}
	return partner, true, nil
}

const orderLinesQuery = `
SELECT l.name, l.product_uom_qty::text, COALESCE(u.name->>'fr_FR', u.name->>'en_US', ''), l.price_unit::text,
       l.price_subtotal::text, l.price_total::text
FROM sale_order_line l LEFT JOIN uom_uom u ON u.id = l.product_uom
WHERE l.order_id = $1 AND l.display_type IS NULL
ORDER BY l.sequence, l.id`

// OrderLines reads an order's product lines.
func OrderLines(ctx context.Context, q DBTX, orderID int) ([]notify.Line, error) {
	return lines(ctx, q, orderLinesQuery, orderID)
}

const invoiceLinesQuery = `
SELECT COALESCE(l.name, ''), COALESCE(l.quantity, 0)::text, COALESCE(u.name->>'fr_FR', u.name->>'en_US', ''), l.price_unit::text,
       l.price_subtotal::text, l.price_total::text
FROM account_move_line l LEFT JOIN uom_uom u ON u.id = l.product_uom_id
WHERE l.move_id = $1 AND l.display_type = 'product'
ORDER BY l.sequence, l.id`

// InvoiceLines reads an invoice's product lines.
func InvoiceLines(ctx context.Context, q DBTX, invoiceID int) ([]notify.Line, error) {
	return lines(ctx, q, invoiceLinesQuery, invoiceID)
}

func lines(ctx context.Context, q DBTX, query string, id int) ([]notify.Line, error) {
	rows, err := q.Query(ctx, query, id)
	if err != nil {
		return nil, fmt.Errorf("read lines of %d: %w", id, err)
	}
	defer rows.Close()
	var out []notify.Line
	for rows.Next() {
		var l notify.Line
		var qty, unit, subtotal, total *string
		if err := rows.Scan(&l.Name, &qty, &l.UoM, &unit, &subtotal, &total); err != nil {
			return nil, fmt.Errorf("read lines of %d: %w", id, err)
		}
		l.Quantity, l.PriceUnit, l.Subtotal, l.Total = parseAmount(qty), parseAmount(unit), parseAmount(subtotal), parseAmount(total)
		out = append(out, l)
	}
	return out, rows.Err()
}

// CompanyOf returns the company of an order or invoice; found is false for any
// other model, or a record that does not exist.
func CompanyOf(ctx context.Context, q DBTX, model string, id int) (company int, found bool, err error) {
	var query string
	switch model {
	case "sale.order":
		query = `SELECT COALESCE(company_id, 0) FROM sale_order WHERE id = $1`
	case "account.move":
		query = `SELECT COALESCE(company_id, 0) FROM account_move WHERE id = $1`
	default:
		return 0, false, nil
	}
	err = q.QueryRow(ctx, query, id).Scan(&company)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read the company of %s %d: %w", model, id, err)
	}
	return company, true, nil
}
