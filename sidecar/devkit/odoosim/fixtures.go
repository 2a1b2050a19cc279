package odoosim

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Demo rows of testdata/odoo16/demo_data.sql.gz (see shared/odoo16/README.md).
const (
	CompanyID      = 1  // YourCompany, currency XOF
	CurrencyXOF    = 41 // 0 decimals
	PricelistID    = 1
	AdminUserID    = 2
	AdminPartnerID = 3
	SalesJournalID = 1 // INV
	BankJournalID  = 7 // BNK1

	PartnerAwa      = 42 // mobile "+221 77 123 45 67"
	PartnerMoussa   = 43 // mobile "77 123 45 68"
	PartnerFall     = 44 // mobile "00221771234569" (a company)
	PartnerFatou    = 45 // phone "+221 78 901 23 45", no mobile
	PartnerIbrahima = 46 // no phone at all

	OrderDraft      = 26 // S00026, partner 42, 224 200 XOF
	InvoiceNotPaid  = 31 // INV/2026/00005, partner 42, 271 400 XOF due
	InvoicePartPaid = 32 // INV/2026/00006, 269 050 of 469 050 left
	InvoicePaid     = 33 // INV/2026/00007
)

// Querier is what the helpers need: a pool, a connection or a transaction.
type Querier interface {
	Begin(context.Context) (pgx.Tx, error)
}

func inTx(ctx context.Context, q Querier, fn func(pgx.Tx) error) error {
	tx, err := q.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// NewQuotation creates a draft sale order for partner as the ORM does (trace step 1):
// INSERT without amounts, then an UPDATE with them, in one transaction.
func NewQuotation(ctx context.Context, q Querier, partnerID int, untaxed, tax int64) (int, error) {
	var id int
	err := inTx(ctx, q, func(tx pgx.Tx) error {
		// Odoo names the order from its sequence in the INSERT itself.
		err := tx.QueryRow(ctx, `
			WITH n AS (SELECT nextval('sale_order_id_seq') AS id)
			INSERT INTO sale_order (id, company_id, create_date, create_uid, currency_id, currency_rate, date_order,
				name, partner_id, partner_invoice_id, partner_shipping_id, pricelist_id, require_payment,
				require_signature, state, team_id, user_id, write_date, write_uid)
			SELECT n.id, $1, now() AT TIME ZONE 'utc', $2, $3, 1.0, date_trunc('second', now() AT TIME ZONE 'utc'),
				'S' || lpad(n.id::text, 5, '0'), $4, $4, $4, $5, true,
				true, 'draft', 1, $2, now() AT TIME ZONE 'utc', $2
			FROM n
			RETURNING id`, CompanyID, AdminUserID, CurrencyXOF, partnerID, PricelistID).Scan(&id)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
			UPDATE sale_order SET amount_tax = $2, amount_total = $3, amount_untaxed = $4,
				invoice_status = 'no', write_date = now() AT TIME ZONE 'utc', write_uid = $5
			WHERE id IN ($1)`, id, tax, untaxed+tax, untaxed, AdminUserID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("new quotation: %w", err)
	}
	return id, nil
}

// AddOrderLine adds a line to an order (sale_order_line's NOT NULL columns as the ORM
// fills them); productID must be a product_product id of the demo data.
func AddOrderLine(ctx context.Context, q Querier, orderID, productID int, label string, qty, unitPrice int64) error {
	err := inTx(ctx, q, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO sale_order_line (order_id, name, sequence, product_id, product_uom_qty, product_uom,
				price_unit, price_subtotal, price_tax, price_total, price_reduce_taxexcl, price_reduce_taxinc,
				discount, customer_lead, company_id, currency_id, order_partner_id, state, qty_delivered_method,
				invoice_status, create_uid, create_date, write_uid, write_date)
			SELECT o.id, $3, 10, $2, $4::numeric, 1, $5::numeric, $4::numeric * $5::numeric, 0, $4::numeric * $5::numeric, $5::numeric, $5::numeric, 0, 0, o.company_id, o.currency_id,
				o.partner_id, o.state, 'manual', 'no', $6, now() AT TIME ZONE 'utc', $6, now() AT TIME ZONE 'utc'
			FROM sale_order o WHERE o.id = $1`, orderID, productID, label, qty, unitPrice, AdminUserID)
		return err
	})
	if err != nil {
		return fmt.Errorf("add order line: %w", err)
	}
	return nil
}

// ConfirmOrder is action_confirm (trace step 2).
func ConfirmOrder(ctx context.Context, q Querier, orderID int) error {
	return setOrderState(ctx, q, orderID, "sale")
}

// CancelOrder is action_cancel (trace step 7).
func CancelOrder(ctx context.Context, q Querier, orderID int) error {
	return setOrderState(ctx, q, orderID, "cancel")
}

func setOrderState(ctx context.Context, q Querier, orderID int, state string) error {
	err := inTx(ctx, q, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			UPDATE sale_order SET date_order = date_trunc('second', now() AT TIME ZONE 'utc'), state = $2,
				write_date = now() AT TIME ZONE 'utc', write_uid = $3
			WHERE id IN ($1)`, orderID, state, AdminUserID)
		return err
	})
	if err != nil {
		return fmt.Errorf("set order %d state %s: %w", orderID, state, err)
	}
	return nil
}

// NewInvoice creates a draft customer invoice for partner (trace step 3): INSERT, then
// the sequence, name '/' and amounts in later statements of the same transaction.
func NewInvoice(ctx context.Context, q Querier, partnerID int, untaxed, tax int64) (int, error) {
	var id int
	err := inTx(ctx, q, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO account_move (auto_post, company_id, create_date, create_uid, currency_id, date,
				invoice_date_due, invoice_user_id, is_move_sent, journal_id, move_type, partner_id,
				partner_shipping_id, state, team_id, write_date, write_uid)
			VALUES ('no', $1, now() AT TIME ZONE 'utc', $2, $3, current_date, current_date, $2, false, $4,
				'out_invoice', $5, $5, 'draft', 1, now() AT TIME ZONE 'utc', $2)
			RETURNING id`, CompanyID, AdminUserID, CurrencyXOF, SalesJournalID, partnerID).Scan(&id)
		if err != nil {
			return err
		}
		for _, stmt := range []string{
			`UPDATE account_move SET is_storno = false, sequence_number = 0, sequence_prefix = '' WHERE id IN ($1)`,
			`UPDATE account_move SET name = '/' WHERE id IN ($1)`,
		} {
			if _, err := tx.Exec(ctx, stmt, id); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `
			UPDATE account_move SET always_tax_exigible = false, amount_residual = $2, amount_residual_signed = $2,
				amount_tax = $3, amount_tax_signed = $3, amount_total = $2, amount_total_in_currency_signed = $2,
				amount_total_signed = $2, amount_untaxed = $4, amount_untaxed_signed = $4,
				commercial_partner_id = partner_id, invoice_partner_display_name = (SELECT name FROM res_partner WHERE id = partner_id),
				payment_state = 'not_paid', write_date = now() AT TIME ZONE 'utc', write_uid = $5
			WHERE id IN ($1)`, id, untaxed+tax, tax, untaxed, AdminUserID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("new invoice: %w", err)
	}
	return id, nil
}

// PostInvoice is action_post (trace step 4): state first, then the final name, in one
// transaction. It returns the name.
func PostInvoice(ctx context.Context, q Querier, invoiceID int) (string, error) {
	var name string
	err := inTx(ctx, q, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			UPDATE account_move SET invoice_date = current_date, posted_before = true, state = 'posted',
				write_date = now() AT TIME ZONE 'utc', write_uid = $2
			WHERE id IN ($1)`, invoiceID, AdminUserID); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `
			UPDATE account_move SET name = 'INV/' || extract(year FROM current_date) || '/' || lpad((90000 + id)::text, 5, '0'),
				sequence_prefix = 'INV/' || extract(year FROM current_date) || '/', sequence_number = 90000 + id
			WHERE id IN ($1) RETURNING name`, invoiceID).Scan(&name)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE account_move SET payment_reference = name WHERE id IN ($1)`, invoiceID)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("post invoice %d: %w", invoiceID, err)
	}
	return name, nil
}

// RegisterPayment is the payment wizard (trace step 5): a posted payment move of type
// 'entry', then the invoice's amount_residual and payment_state, in one transaction.
func RegisterPayment(ctx context.Context, q Querier, invoiceID int, amount int64) (int, error) {
	var paymentMove int
	err := inTx(ctx, q, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO account_move (auto_post, company_id, create_date, create_uid, currency_id, date,
				invoice_user_id, is_move_sent, journal_id, move_type, name, ref, state, team_id, write_date, write_uid)
			SELECT 'no', company_id, now() AT TIME ZONE 'utc', $2, currency_id, current_date, $2, false, $3,
				'entry', '/', name, 'draft', 1, now() AT TIME ZONE 'utc', $2
			FROM account_move WHERE id = $1
			RETURNING id`, invoiceID, AdminUserID, BankJournalID).Scan(&paymentMove)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			UPDATE account_move SET amount_total = $2, name = 'PBNK1/' || extract(year FROM current_date) || '/' || lpad((90000 + id)::text, 5, '0'),
				posted_before = true, state = 'posted', payment_state = 'not_paid'
			WHERE id IN ($1)`, paymentMove, amount); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
			UPDATE account_move SET amount_residual = amount_residual - $2, amount_residual_signed = amount_residual_signed - $2,
				payment_state = CASE WHEN amount_residual - $2 <= 0 THEN 'paid' ELSE 'partial' END,
				write_date = now() AT TIME ZONE 'utc', write_uid = $3
			WHERE id IN ($1)`, invoiceID, amount, AdminUserID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("register payment on invoice %d: %w", invoiceID, err)
	}
	return paymentMove, nil
}
