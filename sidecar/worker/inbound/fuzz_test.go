package inbound_test

import (
	"testing"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/inbound"
)

// FuzzParse: whatever a signed delivery holds, reading it never panics, and every
// message it yields can be described, clicked and dated.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"inbound_text.json", "inbound_contacts.json", "inbound_location.json",
		"inbound_interactive_list_reply.json", "inbound_button.json", "inbound_reaction_removed.json",
		"inbound_unsupported.json", "status_failed.json"} {
		f.Add(fixture(f, name))
	}
	f.Add([]byte(`{"entry":[{"changes":[{"field":"message_template_status_update","value":{"event":"APPROVED"}}]}]}`))
	f.Add([]byte(`{"entry":[{"changes":[{"value":{"messages":[{"from":"1","id":"w","type":"interactive","interactive":{"type":"nfm_reply"}}]}}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := inbound.Parse(body)
		if err != nil {
			return
		}
		for _, c := range d.Changes {
			for _, m := range c.Messages {
				if m.ID == "" || m.From == "" {
					t.Fatal("a message without id or sender was kept")
				}
				_ = m.Content()
				_, _, _ = m.Click()
				_ = m.Media()
				_ = m.ContextID()
				_, _ = m.ErrorOf()
				_ = inbound.Timestamp(m.Timestamp)
			}
		}
	})
}
