package whatsapp

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSignature(t *testing.T) {
	t.Parallel()
	secret := []byte("app-secret")
	body := []byte(`{"object":"whatsapp_business_account","entry":[]}`)
	sig := Sign(secret, body)
	if !strings.HasPrefix(sig, "sha256=") || len(sig) != 7+64 || strings.ToLower(sig) != sig {
		t.Fatalf("Sign = %q", sig)
	}
	tests := []struct {
		name   string
		secret []byte
		body   []byte
		header string
		want   bool
	}{
		{"Valid", secret, body, sig, true},
		{"WrongSecret", []byte("other"), body, sig, false},
		{"TamperedBody", secret, append(bytes.Clone(body), ' '), sig, false},
		{"ReserialisedBody", secret, []byte(`{"entry":[],"object":"whatsapp_business_account"}`), sig, false},
		{"NoPrefix", secret, body, strings.TrimPrefix(sig, "sha256="), false},
		{"SHA1Prefix", secret, body, "sha1=" + strings.TrimPrefix(sig, "sha256="), false},
		{"Uppercase", secret, body, "sha256=" + strings.ToUpper(strings.TrimPrefix(sig, "sha256=")), true},
		{"Truncated", secret, body, sig[:len(sig)-2], false},
		{"NotHex", secret, body, "sha256=" + strings.Repeat("zz", 32), false},
		{"Empty", secret, body, "", false},
		{"EmptySecret", nil, body, Sign(nil, body), false},
	}
	for _, tt := range tests {
		if got := VerifySignature(tt.secret, tt.body, tt.header); got != tt.want {
			t.Errorf("%s: VerifySignature = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestWebhookTypesRoundTrip parses every documented webhook payload and
// writes it back: nothing Meta sends is lost by the Go types.
func TestWebhookTypesRoundTrip(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "meta", "webhooks", "*.json"))
	if err != nil || len(files) < 18 {
		t.Fatalf("webhook fixtures: %v, %d files", err, len(files))
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var p WebhookPayload
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			t.Errorf("%s: %v", filepath.Base(file), err)
			continue
		}
		out, _ := json.Marshal(p)
		var want, got any
		_ = json.Unmarshal(raw, &want)
		_ = json.Unmarshal(out, &got)
		if !reflect.DeepEqual(want, got) {
			t.Errorf("%s does not round-trip:\n got %s", filepath.Base(file), out)
		}
	}
}

// FuzzWebhook: parsing never panics and a signed body always verifies.
func FuzzWebhook(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "meta", "webhooks", "*.json"))
	for _, file := range files {
		raw, _ := os.ReadFile(file)
		f.Add(raw, "sha256=00", "secret")
	}
	f.Fuzz(func(t *testing.T, body []byte, header, secret string) {
		_ = VerifySignature([]byte(secret), body, header)
		if secret != "" && !VerifySignature([]byte(secret), body, Sign([]byte(secret), body)) {
			t.Fatal("Sign does not verify")
		}
		var p WebhookPayload
		if json.Unmarshal(body, &p) != nil {
			return
		}
		for _, e := range p.Entry {
			for _, c := range e.Changes {
				for _, s := range c.Value.Statuses {
					_ = ClassifyCode(len(s.Errors))
				}
			}
		}
	})
}
