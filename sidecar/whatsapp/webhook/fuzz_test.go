package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/config"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/webhook"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/inbound"
)

// memInbox keeps stored deliveries in memory.
type memInbox struct {
	mu     sync.Mutex
	bodies [][]byte
}

func (m *memInbox) Store(_ context.Context, body []byte, _ string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bodies = append(m.bodies, bytes.Clone(body))
	return nil
}

// FuzzWebhookIntake feeds arbitrary bodies and signature headers (and arbitrary
// bodies correctly signed) to the intake, then the stored ones to the payload
// parser: nothing panics, only correctly signed JSON objects are stored, exactly
// as sent, and whatever is stored parses or is reported malformed. CI runs the
// seed corpus with every `go test`; explore with
// `go test -run '^$' -fuzz FuzzWebhookIntake -fuzztime 30s ./sidecar/webhook`.
func FuzzWebhookIntake(f *testing.F) {
	const secret = "fuzz-secret"
	for _, name := range []string{"inbound_text.json", "inbound_image.json", "inbound_contacts.json", "inbound_location.json",
		"inbound_interactive_button_reply.json", "inbound_interactive_list_reply.json", "inbound_button.json",
		"inbound_reaction_removed.json", "inbound_unsupported.json", "status_failed.json", "status_sent.json"} {
		body := fixture(f, name)
		f.Add(body, "", true)
		f.Add(body, whatsapp.Sign([]byte("other"), body), false)
		f.Add(body[:len(body)/3], whatsapp.Sign([]byte(secret), body), false)
	}
	f.Add([]byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"from":"1","id":"x","type":"location","location":{"latitude":"a"}}]}}]}]}`), "", true)
	f.Add([]byte(`{"entry":[{"changes":[{"value":{"statuses":[{"id":"w","status":"failed","errors":[{}]}]}}]}]}`), "", true)
	f.Add([]byte(`{"entry":null}`), "", true)
	f.Add([]byte(`{}`), "sha256=", false)
	f.Add([]byte(`{"a":`), "sha256=zz", false)
	f.Add([]byte("\x00\xff"), "", true)

	f.Fuzz(func(t *testing.T, body []byte, header string, sign bool) {
		inbox := &memInbox{}
		h := &webhook.Handler{Inbox: inbox, Secrets: webhook.AccountSecrets{Env: config.WhatsApp{AppSecret: secret}}, MaxBodyBytes: 1 << 16}
		if sign {
			header = whatsapp.Sign([]byte(secret), body)
		}
		req := httptest.NewRequest(http.MethodPost, webhook.Path, bytes.NewReader(body))
		req.Header.Set(whatsapp.SignatureHeader, header)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		valid := whatsapp.VerifySignature([]byte(secret), body, header)
		switch rec.Code {
		case http.StatusOK:
			if !valid || !json.Valid(body) {
				t.Fatalf("accepted a delivery that is not signed JSON (signature valid %v)", valid)
			}
			if len(inbox.bodies) != 1 || !bytes.Equal(inbox.bodies[0], body) {
				t.Fatal("accepted delivery not stored exactly as received")
			}
			if d, err := inbound.Parse(inbox.bodies[0]); err == nil {
				for _, c := range d.Changes {
					for _, m := range c.Messages {
						_ = m.Content()
						_, _, _ = m.Click()
						_ = m.ContextID()
						_, _ = m.ErrorOf()
						_ = c.ProfileName(m.From)
					}
					for _, s := range c.Statuses {
						_ = inbound.Timestamp(s.Timestamp)
					}
				}
			}
		case http.StatusForbidden, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if len(inbox.bodies) != 0 {
				t.Fatalf("refused (%d) but stored", rec.Code)
			}
			if rec.Code == http.StatusForbidden && valid {
				t.Fatal("a correctly signed delivery was refused as forged")
			}
		default:
			t.Fatalf("unexpected status %d", rec.Code)
		}
	})
}
