package texts_test

import (
	"math/big"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify/texts"
)

var (
	xof = texts.Currency{Name: "XOF", Symbol: "CFA", Position: "after", Decimals: 0}
	eur = texts.Currency{Name: "EUR", Symbol: "€", Position: "after", Decimals: 2}
	usd = texts.Currency{Name: "USD", Symbol: "$", Position: "before", Decimals: 2}
)

func TestMoney(t *testing.T) {
	t.Parallel()
	cases := []struct {
		amount string
		cur    texts.Currency
		lang   texts.Lang
		want   string
	}{
		{"271400", xof, texts.French, "271 400 F CFA"},
		{"271400.00", xof, texts.English, "271,400 F CFA"},
		{"53100.4", xof, texts.French, "53 100 F CFA"},
		{"999", xof, texts.French, "999 F CFA"},
		{"1000", xof, texts.French, "1 000 F CFA"},
		{"0", xof, texts.French, "0 F CFA"},
		{"1234567.5", eur, texts.French, "1 234 567,50 €"},
		{"-12.5", eur, texts.French, "-12,50 €"},
		{"1234.5", usd, texts.English, "$1,234.50"},
	}
	for _, c := range cases {
		r, _ := new(big.Rat).SetString(c.amount)
		if got := texts.Money(r, c.cur, c.lang); got != c.want {
			t.Errorf("Money(%s %s, %s) = %q, want %q", c.amount, c.cur.Name, c.lang, got, c.want)
		}
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	vars := texts.Vars{"partner_name": "Awa Ndiaye", "order_name": "S00026", "amount_total": "224 200 F CFA", "company_name": "YourCompany"}
	got := texts.Render(texts.French, "order_created", "", vars)
	for _, want := range []string{"Bonjour Awa Ndiaye", "S00026", "224 200 F CFA", "YourCompany"} {
		if !strings.Contains(got, want) {
			t.Errorf("order_created = %q, missing %q", got, want)
		}
	}
	if got := texts.Render(texts.English, "order_created", "Hi {partner_name}, {typo}", vars); got != "Hi Awa Ndiaye, {typo}" {
		t.Errorf("override = %q: placeholders filled, unknown ones kept", got)
	}
}

// Every text exists in both languages, and button titles fit Meta's 20 characters.
func TestCatalogComplete(t *testing.T) {
	t.Parallel()
	for _, key := range texts.Keys() {
		fr, en := texts.Get(texts.French, key), texts.Get(texts.English, key)
		if fr == "" || en == "" || (fr == en && !strings.HasPrefix(key, "button_")) {
			t.Errorf("%s: missing a translation (fr %q, en %q)", key, fr, en)
		}
		if strings.HasPrefix(key, "button_") {
			for _, title := range []string{fr, en} {
				if n := utf8.RuneCountInString(title); n > 20 {
					t.Errorf("%s: title %q has %d characters, Meta allows 20", key, title, n)
				}
			}
		}
	}
}

func TestDate(t *testing.T) {
	t.Parallel()
	if got := texts.Date("2026-11-15", texts.French); got != "15/11/2026" {
		t.Errorf("French date = %q", got)
	}
	if got := texts.Date("2026-11-15", texts.English); got != "15 Nov 2026" {
		t.Errorf("English date = %q", got)
	}
}
