package whatsapp

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// SignatureHeader is the header carrying a webhook's signature.
const SignatureHeader = "X-Hub-Signature-256"

// Sign returns the X-Hub-Signature-256 value of a webhook body:
// "sha256=" + lowercase hex HMAC-SHA256 of the raw body keyed with the app
// secret (D: webhooks/create-webhook-endpoint, "Validate payloads").
func Sign(appSecret, body []byte) string {
	mac := hmac.New(sha256.New, appSecret)
	mac.Write(body)
	var out [7 + 2*sha256.Size]byte
	copy(out[:], "sha256=")
	hex.Encode(out[7:], mac.Sum(nil))
	return string(out[:])
}

// VerifySignature reports whether header is the valid X-Hub-Signature-256 of
// body, comparing in constant time. It must be given the raw body as
// received: re-serialised JSON does not match.
func VerifySignature(appSecret, body []byte, header string) bool {
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok || len(hexSig) != 2*sha256.Size || len(appSecret) == 0 {
		return false
	}
	var got [sha256.Size]byte
	if _, err := hex.Decode(got[:], []byte(hexSig)); err != nil {
		return false
	}
	mac := hmac.New(sha256.New, appSecret)
	mac.Write(body)
	return hmac.Equal(got[:], mac.Sum(nil))
}
