// Package texts holds every text the sidecar sends a customer, in French (the seed
// module's language, the default) and English, with {placeholders} filled from the
// record, and formats amounts and dates the way the customer reads them ("271 400
// F CFA"). Each text can be overridden per account (whatsapp_config.text_* columns).
package texts

import (
	"math/big"
	"regexp"
	"strings"
	"time"
)

// Lang is a supported language.
type Lang string

const (
	French  Lang = "fr"
	English Lang = "en"
)

// ParseLang maps Odoo-style codes (fr_FR, en_US, fr, en) to a Lang; anything else
// is French, the default.
func ParseLang(s string) Lang {
	if strings.HasPrefix(strings.ToLower(s), "en") {
		return English
	}
	return French
}

// Vars are the placeholder values of one text.
type Vars map[string]string

var placeholder = regexp.MustCompile(`\{([a-z_]+)\}`)

// Render returns the text for key in lang, or override when not empty, with its
// {placeholders} replaced; unknown placeholders are left as written, so a typo in an
// override shows in the message instead of vanishing silently.
func Render(lang Lang, key, override string, vars Vars) string {
	text := override
	if strings.TrimSpace(text) == "" {
		text = Get(lang, key)
	}
	return placeholder.ReplaceAllStringFunc(text, func(m string) string {
		if v, ok := vars[m[1:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

// Get returns the built-in text for key in lang (French when missing in lang).
func Get(lang Lang, key string) string {
	if t, ok := catalog[key][lang]; ok {
		return t
	}
	return catalog[key][French]
}

// Keys lists the built-in texts, for tests and documentation.
func Keys() []string {
	keys := make([]string, 0, len(catalog))
	for k := range catalog {
		keys = append(keys, k)
	}
	return keys
}

// Currency is what formatting an amount needs of Odoo's res_currency.
type Currency struct {
	ID       int
	Name     string // ISO code: XOF, EUR
	Symbol   string
	Position string // before or after
	Decimals int
}

// Money formats an amount in its currency for a customer: XOF and XAF as "271 400
// F CFA" (the seed's form, no decimals), other currencies with their symbol on the
// side Odoo says, their decimals, and the language's separators.
func Money(amount *big.Rat, cur Currency, lang Lang) string {
	decimals := cur.Decimals
	if decimals < 0 {
		decimals = 0
	}
	digits := amount.FloatString(decimals)
	neg := strings.HasPrefix(digits, "-")
	digits = strings.TrimPrefix(digits, "-")
	intPart, frac, _ := strings.Cut(digits, ".")
	thousands, point := " ", ","
	if lang == English {
		thousands, point = ",", "."
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, d := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteString(thousands)
		}
		b.WriteRune(d)
	}
	if frac != "" {
		b.WriteString(point + frac)
	}
	number := b.String()
	switch cur.Name {
	case "XOF", "XAF":
		return number + " F CFA"
	}
	if cur.Position == "before" {
		return cur.Symbol + number
	}
	return number + " " + cur.Symbol
}

// Date formats a YYYY-MM-DD date: 15/11/2026 in French, 15 Nov 2026 in English.
func Date(iso string, lang Lang) string {
	d, err := time.Parse(time.DateOnly, iso)
	if err != nil {
		return iso
	}
	if lang == English {
		return d.Format("2 Jan 2006")
	}
	return d.Format("02/01/2006")
}
