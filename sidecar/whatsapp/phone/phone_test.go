package phone_test

import (
	"errors"
	"testing"

	"go.uber.org/goleak"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/phone"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNormalize(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		raw     string
		regions []string
		want    string
		region  string
	}{
		{"InternationalWithSpaces", "+221 77 123 45 67", nil, "+221771234567", "SN"},
		{"LocalWithRegion", "77 123 45 68", []string{"SN"}, "+221771234568", "SN"},
		{"DoubleZeroPrefix", "00221771234569", nil, "+221771234569", "SN"},
		{"OtherOperator", "+221 78 901 23 45", nil, "+221789012345", "SN"},
		{"PunctuationAccepted", "+221 (77) 123-45-67", []string{"FR"}, "+221771234567", "SN"},
		{"FallsBackToNextRegion", "77 123 45 68", []string{"US", "SN"}, "+221771234568", "SN"},
		{"FirstValidRegionWins", "77 123 45 68", []string{"FR", "SN"}, "+33771234568", "FR"},
		{"LowercaseRegion", "77 123 45 68", []string{"sn"}, "+221771234568", "SN"},
		{"FrenchMobile", "06 12 34 56 78", []string{"FR"}, "+33612345678", "FR"},
		{"FixedLineAccepted", "33 821 23 45", []string{"SN"}, "+221338212345", "SN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := phone.Normalize(tt.raw, tt.regions...)
			if err != nil {
				t.Fatalf("Normalize(%q, %v): %v", tt.raw, tt.regions, err)
			}
			if got.E164 != tt.want || got.WaID != tt.want[1:] || got.Region != tt.region {
				t.Fatalf("Normalize(%q) = %+v, want E164 %s region %s", tt.raw, got, tt.want, tt.region)
			}
		})
	}
}

func TestNormalizeRejects(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		raw     string
		regions []string
	}{
		{"Junk", "abc 12", []string{"SN"}},
		{"Empty", "", []string{"SN"}},
		{"Blank", "   ", []string{"SN"}},
		{"TooShort", "12", []string{"SN"}},
		{"LocalWithoutRegion", "77 123 45 68", nil},
		{"InvalidForRegion", "77 123 45", []string{"SN"}},
		{"FrenchTollFree", "0800 123 456", []string{"FR"}},
		{"FrenchPremium", "+33 8 99 12 34 56", nil},
		{"ShortCode", "3636", []string{"FR"}},
		{"UnknownCountryCode", "+999 123 456 789", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := phone.Normalize(tt.raw, tt.regions...)
			if err == nil {
				t.Fatalf("Normalize(%q) = %+v, want error", tt.raw, got)
			}
			if !errors.Is(err, phone.ErrNotWhatsApp) {
				t.Fatalf("error %v does not wrap ErrNotWhatsApp", err)
			}
		})
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"+221 77 123 45 67", "77 123 45 68", "00221771234569", "abc 12", "", "12", "+", "00", "++1"} {
		f.Add(s, "SN")
	}
	f.Fuzz(func(t *testing.T, raw, region string) {
		n, err := phone.Normalize(raw, region)
		if err != nil {
			if !errors.Is(err, phone.ErrNotWhatsApp) {
				t.Fatalf("error %v does not wrap ErrNotWhatsApp", err)
			}
			return
		}
		if n.E164 == "" || n.E164[0] != '+' || n.E164[1:] != n.WaID {
			t.Fatalf("inconsistent number %+v", n)
		}
		again, err := phone.Normalize(n.E164)
		if err != nil || again.E164 != n.E164 {
			t.Fatalf("E164 %q does not normalise to itself: %+v, %v", n.E164, again, err)
		}
	})
}
