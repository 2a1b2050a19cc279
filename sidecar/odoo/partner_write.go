package odoo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// NewContact is a partner to create for a WhatsApp number no partner has.
type NewContact struct {
	Name    string // the customer's WhatsApp profile name, else the number
	Mobile  string // E.164
	Country string // ISO code of the number's country, "" when unknown
	// Note says why the partner exists (res_partner.comment, as HTML).
	Note string
	// Tag is the name of the res.partner.category that marks such partners,
	// created when missing.
	Tag string
}

// CreateContact writes an individual contact as res.partner.create stores one:
// its own commercial partner, a customer-facing share partner, the mobile and the
// phone_sanitized Odoo computes from it (the trimmed mobile, without phonenumbers),
// tagged with c.Tag. It returns the new partner's id.
func CreateContact(ctx context.Context, tx pgx.Tx, c NewContact, at time.Time) (int, error) {
	var id int
	err := tx.QueryRow(ctx, `
		INSERT INTO res_partner (name, display_name, type, active, is_company, partner_share, color, mobile, phone_sanitized,
		    country_id, comment, message_bounce, supplier_rank, customer_rank, invoice_warn, sale_warn,
		    create_uid, create_date, write_uid, write_date)
		VALUES ($1, $1, 'contact', true, false, true, 0, $2::text, NULLIF(trim($2::text), ''),
		    (SELECT id FROM res_country WHERE code = NULLIF($3, '')), NULLIF($4, ''), 0, 0, 0, 'no-message', 'no-message',
		    1, $5, 1, $5)
		RETURNING id`, c.Name, c.Mobile, strings.ToUpper(c.Country), c.Note, at.UTC()).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("create contact %q: %w", c.Name, err)
	}
	if _, err := tx.Exec(ctx, `UPDATE res_partner SET commercial_partner_id = id WHERE id = $1`, id); err != nil {
		return 0, fmt.Errorf("create contact %q: %w", c.Name, err)
	}
	if c.Tag == "" {
		return id, nil
	}
	tag, err := partnerTag(ctx, tx, c.Tag, at)
	if err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO res_partner_res_partner_category_rel (category_id, partner_id) VALUES ($1, $2)
		ON CONFLICT DO NOTHING`, tag, id); err != nil {
		return 0, fmt.Errorf("tag contact %q: %w", c.Name, err)
	}
	return id, nil
}

// partnerTag finds or creates the contact tag named name (in any language).
func partnerTag(ctx context.Context, tx pgx.Tx, name string, at time.Time) (int, error) {
	var id int
	err := tx.QueryRow(ctx, `SELECT id FROM res_partner_category WHERE name->>'en_US' = $1 OR name->>'fr_FR' = $1 ORDER BY id LIMIT 1`,
		name).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("find contact tag %q: %w", name, err)
	}
	err = tx.QueryRow(ctx, `INSERT INTO res_partner_category (name, active, color, create_uid, create_date, write_uid, write_date)
		VALUES (jsonb_build_object('en_US', $1::text), true, 0, 1, $2, 1, $2) RETURNING id`, name, at.UTC()).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("create contact tag %q: %w", name, err)
	}
	if _, err := tx.Exec(ctx, `UPDATE res_partner_category SET parent_path = id || '/' WHERE id = $1`, id); err != nil {
		return 0, fmt.Errorf("create contact tag %q: %w", name, err)
	}
	return id, nil
}
