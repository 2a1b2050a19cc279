package sandbox

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify/texts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo"
)

// odooReader reads what the page shows from Odoo's database: short queries, run
// when something happens, never in a loop.
type odooReader struct {
	pool *pgxpool.Pool
}

// rowInfo is what a whatsapp_message row says about its message.
type rowInfo struct {
	Model     string // res_model, "" if the row is about no record
	ResID     int
	PartnerID int
	Partner   string // the partner's name, else the row's contact_name
	Business  string // the account's name (whatsapp_config.name)
}

const rowsQuery = `
SELECT m.id, COALESCE(m.res_model, ''), COALESCE(m.res_id, 0), COALESCE(m.contact_id, 0),
       COALESCE(p.name, m.contact_name, ''), COALESCE(c.name, '')
FROM whatsapp_message m
LEFT JOIN res_partner p ON p.id = m.contact_id
LEFT JOIN whatsapp_config c ON c.id = m.config_id
WHERE m.id = ANY($1)`

func (o *odooReader) rows(ctx context.Context, ids []int) (map[int]rowInfo, error) {
	out := make(map[int]rowInfo, len(ids))
	rows, _ := o.pool.Query(ctx, rowsQuery, ids)
	var id int
	var r rowInfo
	_, err := pgx.ForEachRow(rows, []any{&id, &r.Model, &r.ResID, &r.PartnerID, &r.Partner, &r.Business}, func() error {
		out[id] = r
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read whatsapp_message rows: %w", err)
	}
	return out, nil
}

// conversationsQuery names customers known only from what they wrote: the inbox
// processor files their messages in a whatsapp_conversation.
const conversationsQuery = `
SELECT DISTINCT ON (c.wa_id) c.wa_id, COALESCE(p.name, c.contact_name, ''), COALESCE(c.contact_id, 0)
FROM whatsapp_conversation c LEFT JOIN res_partner p ON p.id = c.contact_id
WHERE c.wa_id = ANY($1)
ORDER BY c.wa_id, c.id`

type conversationInfo struct {
	Name      string
	PartnerID int
}

func (o *odooReader) conversations(ctx context.Context, waIDs []string) (map[string]conversationInfo, error) {
	out := make(map[string]conversationInfo, len(waIDs))
	rows, _ := o.pool.Query(ctx, conversationsQuery, waIDs)
	var waID string
	var c conversationInfo
	_, err := pgx.ForEachRow(rows, []any{&waID, &c.Name, &c.PartnerID}, func() error {
		out[waID] = c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read whatsapp_conversation: %w", err)
	}
	return out, nil
}

// settings are the page's own: the account it shows and the language it speaks.
type settings struct {
	Business string
	Lang     texts.Lang
}

const settingsQuery = `
SELECT c.name, COALESCE(c.lang, '')
FROM whatsapp_config c
WHERE COALESCE(c.is_active, true)
ORDER BY c.company_id NULLS LAST, c.id
LIMIT 1`

func (o *odooReader) settings(ctx context.Context) (settings, error) {
	var name, lang string
	err := o.pool.QueryRow(ctx, settingsQuery).Scan(&name, &lang)
	if errors.Is(err, pgx.ErrNoRows) {
		return settings{Lang: texts.French}, nil // no account yet: the seed's language
	}
	if err != nil {
		return settings{}, fmt.Errorf("read whatsapp_config: %w", err)
	}
	return settings{Business: name, Lang: texts.ParseLang(lang)}, nil
}

// panelView is a chat's "in Odoo" panel: the customer and the records the
// chat's messages are about, newest first, as they are in the database now.
type panelView struct {
	Partner *partnerPanel `json:"partner,omitempty"`
	Records []recordPanel `json:"records"`
}

type partnerPanel struct {
	ID    int        `json:"id"`
	Name  string     `json:"name"`
	Phone string     `json:"phone,omitempty"`
	Flags []flagView `json:"flags"`
}

type recordPanel struct {
	Model string `json:"model"`
	ID    int    `json:"id"`
	// Missing is true when the record no longer exists.
	Missing      bool       `json:"missing,omitempty"`
	Name         string     `json:"name,omitempty"`
	State        string     `json:"state,omitempty"`
	PaymentState string     `json:"payment_state,omitempty"`
	Total        string     `json:"total,omitempty"`
	Residual     string     `json:"residual,omitempty"`
	Flags        []flagView `json:"flags,omitempty"`
}

// flagView is one x_whatsapp_* column: its value (true, false, null, a count)
// and, for a flag with a *_date companion, when it was set.
type flagView struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
	Date  any    `json:"date,omitempty"`
}

// The x_whatsapp_* columns of a row, whichever exist: the sidecar adds some over
// time, and a flag the page does not know yet is shown all the same.
const (
	orderFlagsQuery = `
SELECT o.id, COALESCE((SELECT jsonb_object_agg(key, value) FROM jsonb_each(to_jsonb(o)) WHERE key LIKE 'x\_whatsapp\_%'), '{}')
FROM sale_order o WHERE o.id = ANY($1)`
	invoiceFlagsQuery = `
SELECT m.id, COALESCE((SELECT jsonb_object_agg(key, value) FROM jsonb_each(to_jsonb(m)) WHERE key LIKE 'x\_whatsapp\_%'), '{}')
FROM account_move m WHERE m.id = ANY($1)`
	partnerFlagsQuery = `
SELECT p.id, COALESCE((SELECT jsonb_object_agg(key, value) FROM jsonb_each(to_jsonb(p)) WHERE key LIKE 'x\_whatsapp\_%'), '{}')
FROM res_partner p WHERE p.id = ANY($1)`
)

// maxPanelRecords bounds the orders and invoices a chat's Odoo panel shows.
const maxPanelRecords = 5

const (
	modelOrder   = "sale.order"
	modelInvoice = "account.move"
	modelPartner = "res.partner"
)

// panel reads the partner and the orders and invoices; a message about the
// partner (an opt-out answer) names the customer, and messages about anything
// else (a conversation) add nothing.
func (o *odooReader) panel(ctx context.Context, lang texts.Lang, partnerID int, refs []recordRef) (panelView, error) {
	pv := panelView{Records: []recordPanel{}}
	var orderIDs, invoiceIDs []int
	var records []recordRef
	for _, r := range refs {
		if r.Model == modelPartner {
			if partnerID == 0 {
				partnerID = r.ID
			}
			continue
		}
		if len(records) == maxPanelRecords {
			continue
		}
		switch r.Model {
		case modelOrder:
			orderIDs = append(orderIDs, r.ID)
		case modelInvoice:
			invoiceIDs = append(invoiceIDs, r.ID)
		default:
			continue
		}
		records = append(records, r)
	}
	orders, err := odoo.Orders(ctx, o.pool, orderIDs)
	if err != nil {
		return pv, err
	}
	invoices, err := odoo.Invoices(ctx, o.pool, invoiceIDs)
	if err != nil {
		return pv, err
	}
	orderFlags, err := o.flags(ctx, orderFlagsQuery, orderIDs)
	if err != nil {
		return pv, err
	}
	invoiceFlags, err := o.flags(ctx, invoiceFlagsQuery, invoiceIDs)
	if err != nil {
		return pv, err
	}
	for _, r := range records {
		rp := recordPanel{Model: r.Model, ID: r.ID}
		switch r.Model {
		case modelOrder:
			ord, ok := orders[r.ID]
			if !ok {
				rp.Missing = true
				break
			}
			rp.Name, rp.State, rp.Total = ord.Name, ord.State, texts.Money(ord.Total, ord.Currency, lang)
			rp.Flags = flagList(orderFlags[r.ID])
		case modelInvoice:
			inv, ok := invoices[r.ID]
			if !ok {
				rp.Missing = true
				break
			}
			rp.Name, rp.State, rp.PaymentState = inv.Name, inv.State, inv.PaymentState
			rp.Total = texts.Money(inv.Total, inv.Currency, lang)
			if inv.State == "posted" && inv.Residual.Cmp(new(big.Rat)) != 0 {
				rp.Residual = texts.Money(inv.Residual, inv.Currency, lang)
			}
			rp.Flags = flagList(invoiceFlags[r.ID])
		}
		pv.Records = append(pv.Records, rp)
	}
	if partnerID != 0 {
		p, found, err := odoo.GetPartner(ctx, o.pool, partnerID)
		if err != nil {
			return pv, err
		}
		if found {
			flags, err := o.flags(ctx, partnerFlagsQuery, []int{partnerID})
			if err != nil {
				return pv, err
			}
			pv.Partner = &partnerPanel{ID: p.ID, Name: p.Name, Phone: p.Number(), Flags: flagList(flags[partnerID])}
		}
	}
	return pv, nil
}

func (o *odooReader) flags(ctx context.Context, query string, ids []int) (map[int]map[string]any, error) {
	out := make(map[int]map[string]any, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, _ := o.pool.Query(ctx, query, ids)
	var id int
	var flags map[string]any
	_, err := pgx.ForEachRow(rows, []any{&id, &flags}, func() error {
		out[id], flags = flags, nil
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read x_whatsapp_* flags: %w", err)
	}
	return out, nil
}

// flagList orders the flags by name, each *_date column joined to its flag.
func flagList(cols map[string]any) []flagView {
	names := make([]string, 0, len(cols))
	for name := range cols {
		if base, isDate := strings.CutSuffix(name, "_date"); isDate {
			if _, hasFlag := cols[base]; hasFlag {
				continue
			}
		}
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]flagView, 0, len(names))
	for _, name := range names {
		out = append(out, flagView{Name: name, Value: cols[name], Date: cols[name+"_date"]})
	}
	return out
}
