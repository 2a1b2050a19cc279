// Package phone normalises customer phone numbers to the E.164 form that the
// WhatsApp Cloud API expects, and rejects numbers that cannot be WhatsApp
// accounts.
//
// Meta accepts "+", "-", "(", ")" and spaces in the "to" field, but prepends the
// business number's own country code to a number written without "+"
// (https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/send-messages,
// "Phone number formats"). A local number of a customer abroad would then reach
// the wrong person, so the sidecar always sends E.164 with the country code
// resolved here from the partner's or the company's country.
package phone

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// ErrNotWhatsApp is the sentinel wrapped by every error of Normalize: the input
// is not a number a WhatsApp user can have (empty, not a phone number, invalid
// for every region tried, a short code, or a premium-rate/toll-free/shared-cost
// /UAN/pager/voicemail number).
var ErrNotWhatsApp = errors.New("not a WhatsApp phone number")

// Number is a normalised phone number.
type Number struct {
	// E164 is the number in E.164 form, e.g. "+221771234567".
	E164 string
	// WaID is E164 without the "+", the form Meta uses in wa_id, recipient_id
	// and from fields, e.g. "221771234567".
	WaID string
	// Region is the ISO 3166-1 alpha-2 region the number belongs to, e.g. "SN".
	Region string
	// Mobile is false for numbers libphonenumber knows as fixed lines only;
	// WhatsApp can be registered on a landline, so they are accepted.
	Mobile bool
}

// Error describes why a raw value was rejected. It wraps ErrNotWhatsApp.
type Error struct {
	Raw    string
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("phone number %q: %s", e.Raw, e.Reason)
}

// Unwrap makes errors.Is(err, ErrNotWhatsApp) true.
func (e *Error) Unwrap() error { return ErrNotWhatsApp }

// Normalize parses raw and returns it in E.164 form. Numbers written with a
// leading "+" or "00" are international; any other number is tried against
// regions in order (ISO codes such as the partner's country, then the
// company's, then the configured default) and the first region for which it is
// a valid number wins.
func Normalize(raw string, regions ...string) (Number, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return Number{}, &Error{Raw: raw, Reason: "empty"}
	}
	if !strings.ContainsAny(s, "0123456789") {
		return Number{}, &Error{Raw: raw, Reason: "no digits"}
	}
	if rest, ok := strings.CutPrefix(s, "00"); ok {
		s = "+" + rest
	}

	if strings.HasPrefix(s, "+") {
		num, err := phonenumbers.Parse(s, "ZZ")
		if err != nil {
			return Number{}, &Error{Raw: raw, Reason: "not a phone number: " + err.Error()}
		}
		return check(raw, num)
	}

	if len(regions) == 0 {
		return Number{}, &Error{Raw: raw, Reason: "no country code and no default region"}
	}
	var firstErr error
	for _, region := range regions {
		region = strings.ToUpper(strings.TrimSpace(region))
		if region == "" {
			continue
		}
		num, err := phonenumbers.Parse(s, region)
		if err != nil {
			if firstErr == nil {
				firstErr = &Error{Raw: raw, Reason: "not a phone number: " + err.Error()}
			}
			continue
		}
		n, err := check(raw, num)
		if err == nil {
			return n, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr == nil {
		return Number{}, &Error{Raw: raw, Reason: "no usable region"}
	}
	return Number{}, firstErr
}

func check(raw string, num *phonenumbers.PhoneNumber) (Number, error) {
	if !phonenumbers.IsValidNumber(num) {
		if phonenumbers.IsValidShortNumber(num) {
			return Number{}, &Error{Raw: raw, Reason: "short code"}
		}
		return Number{}, &Error{Raw: raw, Reason: "invalid number"}
	}
	mobile := false
	switch t := phonenumbers.GetNumberType(num); t {
	case phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE, phonenumbers.PERSONAL_NUMBER, phonenumbers.VOIP:
		mobile = true
	case phonenumbers.FIXED_LINE:
	default:
		return Number{}, &Error{Raw: raw, Reason: typeName(t) + " number"}
	}
	e164 := phonenumbers.Format(num, phonenumbers.E164)
	return Number{
		E164:   e164,
		WaID:   strings.TrimPrefix(e164, "+"),
		Region: phonenumbers.GetRegionCodeForNumber(num),
		Mobile: mobile,
	}, nil
}

func typeName(t phonenumbers.PhoneNumberType) string {
	switch t {
	case phonenumbers.PREMIUM_RATE:
		return "premium-rate"
	case phonenumbers.TOLL_FREE:
		return "toll-free"
	case phonenumbers.SHARED_COST:
		return "shared-cost"
	case phonenumbers.UAN:
		return "UAN"
	case phonenumbers.PAGER:
		return "pager"
	case phonenumbers.VOICEMAIL:
		return "voicemail"
	default:
		return "unknown-type"
	}
}
