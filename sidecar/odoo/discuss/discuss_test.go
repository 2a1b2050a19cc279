package discuss

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestPlainTextIsWhatTheOperatorTyped(t *testing.T) {
	for body, want := range map[string]string{
		"<p>Bonjour Awa, elle part demain.</p>":      "Bonjour Awa, elle part demain.",
		"<p>Ligne 1<br>Ligne 2</p>":                  "Ligne 1\nLigne 2",
		"<p>a</p><p>b</p>":                           "a\nb",
		"<p>5 &lt; 6 &amp; l&#39;été</p>":            "5 < 6 & l'été",
		`<p>voir <a href="https://x.sn">ici</a></p>`: "voir ici",
	} {
		if got := PlainText(body); got != want {
			t.Errorf("PlainText(%q) = %q, want %q", body, got, want)
		}
	}
}

// The bus rows are JSON as Odoo's json.dumps writes it (HTML not escaped, type
// first), and NOTIFY payloads stay under PostgreSQL's 8000 bytes, split as Odoo
// splits them, each a list of channels.
func TestBusWritesOdoosJSON(t *testing.T) {
	b := NewBus("odoo16")
	b.Send(ChannelOf(5), "mail.channel/new_message", map[string]any{"id": 5, "message": map[string]any{"body": "<p>a & b</p>"}})
	if got := b.rows[0][0]; got != `["odoo16","mail.channel",5]` {
		t.Errorf("channel %s", got)
	}
	if got := b.rows[0][1]; !strings.HasPrefix(got, `{"type":"mail.channel/new_message","payload":`) || !strings.Contains(got, `<p>a & b</p>`) {
		t.Errorf("message %s", got)
	}
	for i := 0; i < 2000; i++ {
		b.Send(PartnerChannel(i), "x", nil)
	}
	payloads := b.Payloads()
	if len(payloads) < 2 {
		t.Fatalf("%d payloads for 2001 channels, want them split", len(payloads))
	}
	n := 0
	for _, p := range payloads {
		if len(p) >= 8000 {
			t.Errorf("payload of %d bytes", len(p))
		}
		var channels [][]any
		if err := json.Unmarshal([]byte(p), &channels); err != nil {
			t.Fatal(err)
		}
		n += len(channels)
	}
	if n != 2001 {
		t.Errorf("%d channels notified, want 2001", n)
	}
}

func TestChannelUUIDIsOdoos(t *testing.T) {
	u, err := channelUUID()
	if err != nil {
		t.Fatal(err)
	}
	if len(u) != 10 || strings.Trim(u, uuidChars) != "" {
		t.Errorf("uuid %q", u)
	}
}
