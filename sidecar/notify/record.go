package notify

import (
	"math/big"
	"strings"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify/texts"
)

// The records a notification is rendered from, as package odoo reads them from
// Odoo's tables after commit: plain values, so rendering needs no database.

// Currency is the record's currency (res_currency).
type Currency = texts.Currency

// Partner is a res_partner row with what messaging needs.
type Partner struct {
	ID      int
	Name    string
	Mobile  string
	Phone   string
	Country string // ISO code of the partner's country, "" if unset
	OptOut  bool
}

// Company is a res_company row.
type Company struct {
	ID      int
	Name    string
	Country string
}

// Line is an order or invoice line (products only, not sections, notes or taxes).
type Line struct {
	Name      string
	Quantity  *big.Rat
	UoM       string
	PriceUnit *big.Rat
	Subtotal  *big.Rat // untaxed
	Total     *big.Rat // taxed
}

// Order is a sale_order row read after commit.
type Order struct {
	ID        int
	Name      string
	State     string
	Company   Company
	Partner   Partner
	Currency  Currency
	Untaxed   *big.Rat
	Tax       *big.Rat
	Total     *big.Rat
	Validated bool // x_whatsapp_validated: confirmed by the customer's click
	Rejected  bool // x_whatsapp_rejected
}

// Invoice is an account_move row (customer invoice or refund) read after commit.
type Invoice struct {
	ID            int
	Name          string
	State         string
	MoveType      string
	PaymentState  string
	Origin        string
	InvoiceDate   string // YYYY-MM-DD, "" if unset
	DueDate       string // YYYY-MM-DD, "" if unset
	Company       Company
	Partner       Partner
	Currency      Currency
	Untaxed       *big.Rat
	Tax           *big.Rat
	Total         *big.Rat
	Residual      *big.Rat
	ReminderCount int
}

// Number is the partner's number to message: mobile first, then phone, as Odoo's
// phone_sanitized picks it.
func (p Partner) Number() string {
	if m := strings.TrimSpace(p.Mobile); m != "" {
		return m
	}
	return strings.TrimSpace(p.Phone)
}
