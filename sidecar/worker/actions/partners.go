package actions

import (
	"context"
	"fmt"
	"sort"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/phone"
)

// partnersByDigits prefilters partners in SQL on the last digits of their mobile or
// phone (Odoo stores numbers as typed: "+221 77 123 45 67", "77 123 45 68",
// "00221771234569"); Go then normalises each candidate to E.164 and keeps exact
// matches. Eight digits are enough to make the candidates few and short enough for
// every national format.
const partnersByDigits = `
SELECT p.id, COALESCE(p.name, ''), COALESCE(p.mobile, ''), COALESCE(p.phone, ''), COALESCE(pc.code, ''),
    COALESCE(p.x_whatsapp_opt_out, false)
FROM res_partner p LEFT JOIN res_country pc ON pc.id = p.country_id
WHERE COALESCE(p.active, true)
  AND (regexp_replace(COALESCE(p.mobile, ''), '\D', '', 'g') LIKE '%' || $1
    OR regexp_replace(COALESCE(p.phone, ''), '\D', '', 'g') LIKE '%' || $1)
ORDER BY p.id
LIMIT 200`

// FindPartners returns the partners whose mobile or phone is num, those matched by
// their mobile first (the number Odoo messages first), then by id. A number written
// without a country code is read in the partner's country, then in num's own
// region (a local number is most likely local to the customer), then in
// defaultRegion.
func FindPartners(ctx context.Context, q DBTX, num phone.Number, defaultRegion string) ([]notify.Partner, error) {
	digits := num.WaID
	if len(digits) > 8 {
		digits = digits[len(digits)-8:]
	}
	if len(digits) < 6 {
		return nil, nil
	}
	rows, err := q.Query(ctx, partnersByDigits, digits)
	if err != nil {
		return nil, fmt.Errorf("find partners by number: %w", err)
	}
	defer rows.Close()
	type match struct {
		p      notify.Partner
		mobile bool
	}
	var found []match
	for rows.Next() {
		var p notify.Partner
		if err := rows.Scan(&p.ID, &p.Name, &p.Mobile, &p.Phone, &p.Country, &p.OptOut); err != nil {
			return nil, fmt.Errorf("find partners by number: %w", err)
		}
		same := func(raw string) bool {
			n, err := phone.Normalize(raw, p.Country, num.Region, defaultRegion)
			return err == nil && n.E164 == num.E164
		}
		switch {
		case same(p.Mobile):
			found = append(found, match{p, true})
		case same(p.Phone):
			found = append(found, match{p, false})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find partners by number: %w", err)
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].mobile && !found[j].mobile })
	out := make([]notify.Partner, len(found))
	for i, m := range found {
		out[i] = m.p
	}
	return out, nil
}

// PartnerIDs lists the ids of partners.
func PartnerIDs(partners []notify.Partner) []int {
	ids := make([]int, len(partners))
	for i, p := range partners {
		ids[i] = p.ID
	}
	return ids
}
