package inbound_test

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/odoosim"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/inbound"
)

// metaTime is the timestamp of every documented payload (1739321024).
var metaTime = time.Unix(1739321024, 0).UTC()

type storedMessage struct {
	ID                             int
	Type, Content, ButtonID, Phone string
	Status, ContactName, ReplyTo   string
	ErrorCode                      int
	ErrorMessage, Raw              string
	ConversationID, ContactID      int
	SentAt                         time.Time
	AttachmentID                   int
}

func (b *bundle) inbound(t *testing.T) []storedMessage {
	t.Helper()
	rows, err := b.pool.Query(context.Background(), `
		SELECT id, message_type, COALESCE(content, ''), COALESCE(button_id, ''), COALESCE(phone, ''), status, COALESCE(contact_name, ''),
		    COALESCE(reply_to_wa_message_id, ''), COALESCE(error_code, 0), COALESCE(error_message, ''), COALESCE(raw_payload, ''),
		    COALESCE(conversation_id, 0), COALESCE(contact_id, 0), sent_at, COALESCE(attachment_id, 0)
		FROM whatsapp_message WHERE direction = 'in' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []storedMessage
	for rows.Next() {
		var m storedMessage
		if err := rows.Scan(&m.ID, &m.Type, &m.Content, &m.ButtonID, &m.Phone, &m.Status, &m.ContactName, &m.ReplyTo, &m.ErrorCode,
			&m.ErrorMessage, &m.Raw, &m.ConversationID, &m.ContactID, &m.SentAt, &m.AttachmentID); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func compact(t *testing.T, raw []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// Every inbound type Meta documents, delivered as Meta signs it, becomes one
// readable whatsapp_message row in the customer's conversation, media stored as
// an attachment; delivering it again changes nothing.
func TestMetaDocumentedMessages(t *testing.T) {
	t.Parallel()
	const replied = "wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA="
	const reacted = "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"
	cases := []struct {
		file, typ, content, replyTo string
		buttonID                    string // a click's id, kept apart from the title users read
		errorCode                   int
		mediaID, mime               string // the documented media id, and the type the file is stored as
	}{
		{file: "inbound_text.json", typ: "text", content: "Does it come in another color?"},
		{file: "inbound_text_reply.json", typ: "text", content: "Yes, please confirm", replyTo: replied},
		{file: "inbound_image.json", typ: "image", content: "[Image] Black jacket", mediaID: "1003383421387256", mime: "image/jpeg"},
		{file: "inbound_document.json", typ: "document", content: "[Document : invoice.pdf] Invoice scan", mediaID: "2085214298566612", mime: "application/pdf"},
		{file: "inbound_audio.json", typ: "audio", content: "[Message vocal]", mediaID: "1006213284652214", mime: "audio/ogg"},
		{file: "inbound_video.json", typ: "video", content: "[Vidéo] Unboxing", mediaID: "1009584671012233", mime: "video/mp4"},
		{file: "inbound_sticker.json", typ: "sticker", content: "[Sticker]", mediaID: "1050396243355284", mime: "image/webp"},
		{file: "inbound_location.json", typ: "location", content: "[Position] Main Street Beach 1 Hacker Way, Menlo Park, CA 94025 (37.483307, -122.148981)"},
		{file: "inbound_contacts.json", typ: "contacts", content: "[Contact] Kerry Fisher +1 (940) 555-1234 +1 (650) 555-1234"},
		{file: "inbound_reaction.json", typ: "reaction", content: "[Réaction 👍]", replyTo: reacted},
		{file: "inbound_reaction_removed.json", typ: "reaction", content: "[Réaction retirée]", replyTo: reacted},
		{file: "inbound_interactive_button_reply.json", typ: "interactive", content: "Cancel", buttonID: "cancel-button", replyTo: replied},
		{file: "inbound_interactive_list_reply.json", typ: "interactive", content: "Priority Mail Express — Next Day to 2 Days", buttonID: "priority_express", replyTo: replied},
		{file: "inbound_button.json", typ: "button", content: "Unsubscribe from Promos", buttonID: "Unsubscribe from Promos", replyTo: replied},
		{file: "inbound_unsupported.json", typ: "unsupported", content: "[Non pris en charge : poll_update] (#131051 Message type unknown)", errorCode: 131051},
	}
	for _, c := range cases {
		t.Run(strings.TrimSuffix(c.file, ".json"), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			body := fixture(t, c.file)
			data := []byte("the bytes of " + c.file)
			if c.mediaID != "" {
				// The emulator serves the file under its own id: the payload
				// names that id, re-signed as Meta would sign it.
				id, err := b.emu.PutMedia(phoneNumberID, c.mime, data)
				if err != nil {
					t.Fatal(err)
				}
				body = bytes.ReplaceAll(body, []byte(`"`+c.mediaID+`"`), []byte(`"`+id+`"`))
			}
			b.post(t, body)
			b.drain(t)
			b.post(t, body) // Meta redelivers
			b.drain(t)

			msgs := b.inbound(t)
			if len(msgs) != 1 {
				t.Fatalf("%d inbound rows, want 1", len(msgs))
			}
			m := msgs[0]
			if m.Type != c.typ || m.Content != c.content || m.ButtonID != c.buttonID || m.ReplyTo != c.replyTo || m.ErrorCode != c.errorCode {
				t.Errorf("row = type %q content %q button_id %q reply_to %q error %d\nwant type %q content %q button_id %q reply_to %q error %d",
					m.Type, m.Content, m.ButtonID, m.ReplyTo, m.ErrorCode, c.typ, c.content, c.buttonID, c.replyTo, c.errorCode)
			}
			if m.Phone != "+"+sheena || m.Status != "received" || m.ContactName != "Sheena Nelson" || !m.SentAt.Equal(metaTime) {
				t.Errorf("row = phone %q status %q contact %q sent_at %v", m.Phone, m.Status, m.ContactName, m.SentAt)
			}
			var d struct {
				Entry []struct {
					Changes []struct {
						Value struct {
							Messages []json.RawMessage `json:"messages"`
						} `json:"value"`
					} `json:"changes"`
				} `json:"entry"`
			}
			if err := json.Unmarshal(body, &d); err != nil {
				t.Fatal(err)
			}
			if want := compact(t, d.Entry[0].Changes[0].Value.Messages[0]); compact(t, []byte(m.Raw)) != want {
				t.Errorf("raw_payload = %s\nwant %s", m.Raw, want)
			}
			var convs, convID int
			var waID, name string
			var lastInbound time.Time
			b.db.QueryRow(t, []any{&convs}, `SELECT count(*) FROM whatsapp_conversation`)
			b.db.QueryRow(t, []any{&convID, &waID, &name, &lastInbound},
				`SELECT id, wa_id, contact_name, last_inbound_at FROM whatsapp_conversation`)
			if convs != 1 || convID != m.ConversationID || waID != sheena || name != "Sheena Nelson" || !lastInbound.Equal(metaTime) {
				t.Errorf("conversation = %d rows, id %d (message's %d), wa_id %q, name %q, last_inbound_at %v",
					convs, convID, m.ConversationID, waID, name, lastInbound)
			}
			if c.mediaID != "" {
				var got []byte
				var mime, model string
				var resID int
				b.db.QueryRow(t, []any{&got, &mime, &model, &resID},
					`SELECT db_datas, mimetype, res_model, res_id FROM ir_attachment WHERE id = $1`, m.AttachmentID)
				if !bytes.Equal(got, data) || mime != c.mime || model != "whatsapp.message" || resID != m.ID {
					t.Errorf("attachment = %q %s %s/%d", got, mime, model, resID)
				}
			}
			if r := b.replies(t, "+"+sheena); len(r) != 0 {
				t.Errorf("unexpected replies %+v", r)
			}
		})
	}
}

// Statuses only move forward, whatever order and however often Meta delivers them;
// a failure records Meta's code and title, and is final.
func TestStatusesMoveForwardOnly(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		sequence []string
		want     string
		code     int
	}{
		{"in order", []string{"status_sent.json", "status_delivered.json", "status_read.json"}, "read", 0},
		{"reversed", []string{"status_read.json", "status_delivered.json", "status_sent.json"}, "read", 0},
		{"duplicated", []string{"status_delivered.json", "status_delivered.json", "status_sent.json", "status_delivered.json"}, "delivered", 0},
		{"failed after delivered", []string{"status_delivered.json", "status_failed.json"}, "delivered", 0},
		{"failed", []string{"status_sent.json", "status_failed.json", "status_failed.json"}, "failed", 131047},
		{"failed is final", []string{"status_failed.json", "status_read.json"}, "failed", 131047},
	}
	const wamid = "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.db.Exec(t, `INSERT INTO whatsapp_message (direction, wa_message_id, phone, status, kind, res_model, res_id, content)
				VALUES ('out', $1, '+16505551234', 'sent', 'order_created', 'sale.order', 26, 'Bonjour')`, wamid)
			for _, f := range c.sequence {
				b.post(t, fixture(t, f))
				b.drain(t)
			}
			var status, errMsg string
			var code int
			var deliveredAt, readAt *time.Time
			b.db.QueryRow(t, []any{&status, &code, &errMsg, &deliveredAt, &readAt}, `SELECT status, COALESCE(error_code, 0),
				COALESCE(error_message, ''), delivered_at, read_at FROM whatsapp_message WHERE wa_message_id = $1`, wamid)
			if status != c.want || code != c.code {
				t.Errorf("status %q code %d, want %q %d", status, code, c.want, c.code)
			}
			if c.code != 0 && errMsg != "(#131047) Re-engagement message: Message failed to send because more than 24 hours have passed since the customer last replied to this number." {
				t.Errorf("error_message %q", errMsg)
			}
			if c.want == "read" && (readAt == nil || !readAt.Equal(metaTime) || deliveredAt == nil) {
				t.Errorf("read_at %v delivered_at %v", readAt, deliveredAt)
			}
		})
	}
}

// A notification Meta accepted but then failed with 131047 (the customer's 24-hour
// window was closed) goes again as its mapped approved template, and the order's
// chatter says it was not delivered. A status found only by the row id the sidecar
// put in biz_opaque_callback_data (its answer was lost) settles that row.
func TestFailedStatusRetriesAsTemplate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.db.Exec(t, `INSERT INTO whatsapp_template (name, wa_name, language_code, status, notification_kind)
		VALUES ('Commande créée', 'order_created_v1', 'fr', 'APPROVED', 'order_created')`)
	var rowID int
	b.db.QueryRow(t, []any{&rowID}, `INSERT INTO whatsapp_message (direction, config_id, phone, status, kind, res_model,
		res_id, content, dedup_key) VALUES ('out', (SELECT id FROM whatsapp_config), '+221771234567', 'sending', 'order_created',
		'sale.order', 26, 'Bonjour Awa', 'created') RETURNING id`)
	failed := whatsapp.Status{ID: "wamid.lost-answer", Status: "failed", Timestamp: unix(time.Now()), RecipientID: awaWaID,
		BizOpaqueCallbackData: "sidecar:" + itoa(int64(rowID)),
		Errors:                []whatsapp.WebhookError{{Code: 131047, Title: "Re-engagement message"}}}
	body := payload(whatsapp.WebhookValue{Statuses: []whatsapp.Status{failed}})
	b.post(t, body)
	b.post(t, body)
	b.drain(t)

	rows := b.replies(t, "+221771234567")
	if len(rows) != 2 || rows[0].Status != "failed" || rows[1].Type != "template" || rows[1].Status != "queued" || rows[1].Kind != "order_created" {
		t.Fatalf("rows = %+v, want the failed one and its template copy queued", rows)
	}
	var wamid, tpl string
	b.db.QueryRow(t, []any{&wamid}, `SELECT wa_message_id FROM whatsapp_message WHERE id = $1`, rowID)
	b.db.QueryRow(t, []any{&tpl}, `SELECT template_name FROM whatsapp_message WHERE id > $1`, rowID)
	if wamid != "wamid.lost-answer" || tpl != "order_created_v1" {
		t.Errorf("wamid %q template %q", wamid, tpl)
	}
	notes := b.notes(t, "sale.order", 26)
	if len(notes) != 1 || !strings.Contains(notes[0], "non délivré") || !strings.Contains(notes[0], "131047") {
		t.Errorf("chatter = %q", notes)
	}
	_ = ctx
}

// A partner is found whatever way Odoo holds the number ("+221 77 123 45 67",
// "77 123 45 68" with the partner's country, "00221771234569", the phone when
// there is no mobile); an unknown number makes a conversation without partner.
func TestConversationFindsThePartner(t *testing.T) {
	t.Parallel()
	cases := []struct {
		waID    string
		partner int
		name    string
	}{
		{"221771234567", odoosim.PartnerAwa, "Awa Ndiaye - +221771234567"},
		{"221771234568", odoosim.PartnerMoussa, "Moussa Diop - +221771234568"},
		{"221771234569", odoosim.PartnerFall, "Quincaillerie Fall & Fils - +221771234569"},
		{"221789012345", odoosim.PartnerFatou, "Fatou Sarr - +221789012345"},
		{"221770000000", 0, "Inconnu - +221770000000"},
	}
	for _, c := range cases {
		t.Run(c.waID, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.post(t, textFrom(c.waID, "Inconnu", "wamid.first-"+c.waID, "Bonjour"))
			b.drain(t)
			b.post(t, textFrom(c.waID, "Inconnu", "wamid.second-"+c.waID, "Vous êtes là ?"))
			b.drain(t)
			var convs, contact int
			var name, phone string
			b.db.QueryRow(t, []any{&convs}, `SELECT count(*) FROM whatsapp_conversation`)
			b.db.QueryRow(t, []any{&contact, &name, &phone}, `SELECT COALESCE(contact_id, 0), name, phone FROM whatsapp_conversation`)
			if convs != 1 || contact != c.partner || name != c.name || phone != "+"+c.waID {
				t.Errorf("conversation = %d rows, contact %d, name %q, phone %q", convs, contact, name, phone)
			}
			for _, m := range b.inbound(t) {
				if m.ContactID != c.partner {
					t.Errorf("message %q has contact %d, want %d", m.Content, m.ContactID, c.partner)
				}
			}
		})
	}
}

// STOP marks every partner with the number (and the conversation) as opted out and
// confirms once; the pipeline then sends that partner nothing, until START.
func TestOptOutAndBackIn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	optOut := func() (partner bool, conv bool) {
		b.db.QueryRow(t, []any{&partner}, `SELECT COALESCE(x_whatsapp_opt_out, false) FROM res_partner WHERE id = $1`, odoosim.PartnerAwa)
		b.db.QueryRow(t, []any{&conv}, `SELECT COALESCE(opt_out, false) FROM whatsapp_conversation`)
		return partner, conv
	}
	b.post(t, textFrom(awaWaID, "Awa", "wamid.stop-1", "Stop"))
	b.post(t, textFrom(awaWaID, "Awa", "wamid.stop-2", " ARRÊT! "))
	b.drain(t)
	if p, c := optOut(); !p || !c {
		t.Fatalf("after STOP: partner opted out %v, conversation %v", p, c)
	}
	rows := b.replies(t, "+"+awaWaID)
	if len(rows) != 1 || rows[0].Kind != "reply_opt_out" || !strings.Contains(rows[0].Content, "ne recevrez plus") {
		t.Fatalf("replies = %+v, want one confirmation", rows)
	}
	if notes := b.notes(t, "res.partner", odoosim.PartnerAwa); len(notes) != 1 || !strings.Contains(notes[0], "ne plus recevoir") {
		t.Errorf("partner chatter = %q", notes)
	}
	// The confirmation goes out although the partner opted out.
	b.send(t)
	if sent := b.sent(t); len(sent) != 1 || !strings.Contains(text(sent[0]), "START") {
		t.Fatalf("sent = %+v", sent)
	}
	// A new quotation for Awa: nothing is sent.
	if _, err := odoosim.NewQuotation(ctx, b.pool, odoosim.PartnerAwa, 100000, 18000); err != nil {
		t.Fatal(err)
	}
	if _, err := b.composer.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	b.send(t)
	if sent := b.sent(t); len(sent) != 1 {
		t.Fatalf("%d messages sent to an opted-out partner", len(sent)-1)
	}

	b.post(t, textFrom(awaWaID, "Awa", "wamid.start", "start"))
	b.drain(t)
	if p, c := optOut(); p || c {
		t.Fatalf("after START: partner opted out %v, conversation %v", p, c)
	}
	rows = b.replies(t, "+"+awaWaID)
	if len(rows) != 2 || rows[1].Kind != "reply_opt_in" {
		t.Fatalf("replies = %+v", rows)
	}
}

// The customer's answer to a message about an order shows in that order's chatter.
func TestReplyAboutAnOrderGoesToItsChatter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.db.Exec(t, `INSERT INTO whatsapp_message (direction, wa_message_id, phone, status, kind, res_model, res_id, content)
		VALUES ('out', 'wamid.order-26', '+221771234567', 'read', 'order_created', 'sale.order', 26, 'Votre commande S00026')`)
	reply := payload(whatsapp.WebhookValue{
		Contacts: []whatsapp.WebhookContact{{Profile: whatsapp.WebhookProfile{Name: "Awa"}, WaID: awaWaID}},
		Messages: []whatsapp.InboundMessage{{From: awaWaID, ID: "wamid.in-1", Timestamp: unix(time.Now()), Type: "text",
			Context: &whatsapp.InboundContext{From: emulator.DefaultDisplayPhoneNumber, ID: "wamid.order-26"},
			Text:    &whatsapp.Text{Body: "Pouvez-vous livrer <samedi> ?"}}},
	})
	b.post(t, reply)
	b.drain(t)
	notes := b.notes(t, "sale.order", 26)
	if len(notes) != 1 || !strings.Contains(notes[0], "Awa Ndiaye (+221771234567)") ||
		!strings.Contains(notes[0], "Pouvez-vous livrer &lt;samedi&gt; ?") {
		t.Errorf("chatter = %q", notes)
	}
	var model string
	var resID int
	b.db.QueryRow(t, []any{&model, &resID}, `SELECT res_model, res_id FROM whatsapp_message WHERE wa_message_id = 'wamid.in-1'`)
	if model != "sale.order" || resID != 26 {
		t.Errorf("message is about %s %d", model, resID)
	}
}

// One POST holding several entries, changes, messages and statuses is handled whole.
func TestBatchedDelivery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.db.Exec(t, `INSERT INTO whatsapp_message (direction, wa_message_id, phone, status) VALUES
		('out', 'wamid.out-1', '+221771234567', 'sent'), ('out', 'wamid.out-2', '+221771234568', 'sent')`)
	value := func(waID string, n int, status string) whatsapp.WebhookValue {
		v := whatsapp.WebhookValue{MessagingProduct: "whatsapp",
			Metadata: whatsapp.WebhookMetadata{PhoneNumberID: phoneNumberID},
			Contacts: []whatsapp.WebhookContact{{Profile: whatsapp.WebhookProfile{Name: waID}, WaID: waID}}}
		for i := range n {
			v.Messages = append(v.Messages, whatsapp.InboundMessage{From: waID, ID: "wamid." + waID + "-" + itoa(int64(i)),
				Timestamp: unix(time.Now()), Type: "text", Text: &whatsapp.Text{Body: "message " + itoa(int64(i))}})
		}
		v.Statuses = []whatsapp.Status{{ID: status, Status: "delivered", Timestamp: unix(time.Now()), RecipientID: waID}}
		return v
	}
	body, _ := json.Marshal(whatsapp.WebhookPayload{Object: "whatsapp_business_account", Entry: []whatsapp.WebhookEntry{
		{ID: "1", Changes: []whatsapp.WebhookChange{{Field: "messages", Value: value(awaWaID, 3, "wamid.out-1")},
			{Field: "messages", Value: value("221771234568", 2, "wamid.out-2")}}},
		{ID: "2", Changes: []whatsapp.WebhookChange{{Field: "messages", Value: value("221771234569", 1, "wamid.unknown")}}},
	}})
	b.post(t, body)
	b.drain(t)
	if n := len(b.inbound(t)); n != 6 {
		t.Errorf("%d inbound rows, want 6", n)
	}
	var convs, delivered int
	b.db.QueryRow(t, []any{&convs}, `SELECT count(*) FROM whatsapp_conversation`)
	b.db.QueryRow(t, []any{&delivered}, `SELECT count(*) FROM whatsapp_message WHERE direction = 'out' AND status = 'delivered'`)
	if convs != 3 || delivered != 2 {
		t.Errorf("%d conversations, %d delivered, want 3 and 2", convs, delivered)
	}
	var processed int
	b.db.QueryRow(t, []any{&processed}, `SELECT count(*) FROM whatsapp_sidecar.inbox WHERE processed_at IS NOT NULL AND last_error IS NULL`)
	if processed != 1 {
		t.Errorf("%d deliveries processed cleanly, want 1", processed)
	}
}

// A delivery that is not Meta's envelope is kept with its error and never retried;
// a failing one is retried with its error recorded, then parked.
func TestMalformedAndFailingDeliveries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.post(t, []byte(`{"object":"page","entry":[]}`))
	b.post(t, []byte(`{"object":"whatsapp_business_account","entry":"not a list"}`))
	b.drain(t)
	var processed int
	var errs []string
	b.db.QueryRow(t, []any{&processed}, `SELECT count(*) FROM whatsapp_sidecar.inbox WHERE processed_at IS NOT NULL`)
	rows, _ := b.pool.Query(context.Background(), `SELECT last_error FROM whatsapp_sidecar.inbox ORDER BY id`)
	for rows.Next() {
		var e string
		_ = rows.Scan(&e)
		errs = append(errs, e)
	}
	rows.Close()
	if processed != 2 || len(errs) != 2 || !strings.Contains(errs[0], "malformed") || !strings.Contains(errs[1], "malformed") {
		t.Errorf("processed %d, errors %q", processed, errs)
	}

	// A database that refuses: the delivery stays, with its error, for later.
	b.db.Exec(t, `ALTER TABLE whatsapp_conversation ADD CONSTRAINT test_refuse CHECK (wa_id <> '221771234567')`)
	b.post(t, textFrom(awaWaID, "Awa", "wamid.refused", "Bonjour"))
	b.drain(t)
	var attempts int
	var lastErr string
	var due bool
	b.db.QueryRow(t, []any{&attempts, &lastErr, &due}, `SELECT attempts, COALESCE(last_error, ''), available_at > now()
		FROM whatsapp_sidecar.inbox WHERE processed_at IS NULL`)
	if attempts != 1 || !strings.Contains(lastErr, "test_refuse") || !due {
		t.Errorf("attempts %d, error %q, waiting %v", attempts, lastErr, due)
	}
	b.db.Exec(t, `ALTER TABLE whatsapp_conversation DROP CONSTRAINT test_refuse`)
	b.db.Exec(t, `UPDATE whatsapp_sidecar.inbox SET available_at = now() WHERE processed_at IS NULL`)
	b.drain(t)
	if n := len(b.inbound(t)); n != 1 {
		t.Errorf("after the retry: %d inbound rows, want 1", n)
	}
}

// The same click delivered twice, to two processors at once (two replicas), is
// answered once and changes the order once.
func TestConcurrentDuplicateClick(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	order, err := odoosim.NewQuotation(ctx, b.pool, odoosim.PartnerAwa, 100000, 18000)
	if err != nil {
		t.Fatal(err)
	}
	click := clickFrom(awaWaID, "wamid.click-twice", "", "btn_validate_order_"+itoa(int64(order)), "Valider")
	for range 6 {
		b.post(t, click)
	}
	other := &inbound.Processor{Pool: b.pool, Accounts: b.accounts, Concurrency: 3, BatchSize: 1}
	b.processor.Concurrency, b.processor.BatchSize = 3, 1
	var wg sync.WaitGroup
	for _, p := range []*inbound.Processor{b.processor, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.Drain(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	var state string
	var validated bool
	b.db.QueryRow(t, []any{&state, &validated}, `SELECT state, COALESCE(x_whatsapp_validated, false) FROM sale_order WHERE id = $1`, order)
	rows := b.replies(t, "+"+awaWaID)
	if state != "sale" || !validated || len(rows) != 1 || rows[0].Kind != "reply_order_validated" {
		t.Errorf("state %q validated %v, replies %+v", state, validated, rows)
	}
	if n := len(b.inbound(t)); n != 1 {
		t.Errorf("%d inbound rows, want 1", n)
	}
}

var sOrder = regexp.MustCompile(`S\d{5}`)

// The whole loop with Meta's emulator: an order created in Odoo reaches the
// customer with its buttons; the customer taps Valider; the signed webhook comes
// back; the order is confirmed (state sale) and the customer answered, once, and
// the pipeline does not send a second "confirmed" message.
func TestFullLoopValidateOrder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	order, err := odoosim.NewQuotation(ctx, b.pool, odoosim.PartnerAwa, 150000, 27000)
	if err != nil {
		t.Fatal(err)
	}
	if err := odoosim.AddOrderLine(ctx, b.pool, order, 1, "Bureau", 1, 150000); err != nil {
		t.Fatal(err)
	}
	if _, err := b.composer.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	b.send(t)
	sent := b.sent(t)
	if len(sent) != 1 || sent[0].Interactive == nil || sent[0].To != "+"+awaWaID {
		t.Fatalf("sent = %+v, want the order's interactive message", sent)
	}
	var ids []string
	for _, btn := range sent[0].Interactive.Action.Buttons {
		ids = append(ids, btn.Reply.ID)
	}
	validate := "btn_validate_order_" + itoa(int64(order))
	if len(ids) != 3 || ids[0] != validate {
		t.Fatalf("buttons %v", ids)
	}
	var orderName string
	b.db.QueryRow(t, []any{&orderName}, `SELECT name FROM sale_order WHERE id = $1`, order)

	// The customer taps "Valider" on their phone.
	if _, err := b.emu.SendInbound(emulator.Inbound{From: awaWaID, Name: "Awa", Type: "button_reply", ID: validate}); err != nil {
		t.Fatal(err)
	}
	b.await(t, "the click", func() bool {
		var state string
		b.db.QueryRow(t, []any{&state}, `SELECT state FROM sale_order WHERE id = $1`, order)
		return state == "sale"
	})
	var validated bool
	var conversation time.Time
	b.db.QueryRow(t, []any{&validated}, `SELECT COALESCE(x_whatsapp_validated, false) FROM sale_order WHERE id = $1`, order)
	b.db.QueryRow(t, []any{&conversation}, `SELECT last_inbound_at FROM whatsapp_conversation WHERE wa_id = $1`, awaWaID)
	if !validated || time.Since(conversation) > time.Hour {
		t.Errorf("validated %v, last_inbound_at %v", validated, conversation)
	}
	// The order_state event the confirmation captured sends nothing more.
	if _, err := b.composer.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	b.send(t)
	sent = b.sent(t)
	if len(sent) != 2 {
		t.Fatalf("%d messages sent, want the order and the answer to the click", len(sent))
	}
	answer := text(sent[1])
	if !strings.Contains(answer, "Merci Awa Ndiaye") || !strings.Contains(answer, orderName) ||
		!strings.Contains(answer, "177 000 F CFA") || sOrder.FindString(answer) != orderName {
		t.Errorf("answer %q", answer)
	}
	notes := b.notes(t, "sale.order", order)
	joined := strings.Join(notes, "\n")
	if !strings.Contains(joined, "confirmée par le client") || !strings.Contains(joined, "règles métier") {
		t.Errorf("chatter = %q", notes)
	}
	// Status webhooks of both messages come back and settle them.
	b.await(t, "the statuses", func() bool {
		var read int
		b.db.QueryRow(t, []any{&read}, `SELECT count(*) FROM whatsapp_message WHERE direction = 'out' AND status = 'read'`)
		return read == 2
	})
}

// What cannot be fully handled is still recorded: media Meta no longer has (the row
// says why), a message to a number no config has (stored, not answered), a
// template review (status recorded on the template); old processed deliveries are
// purged.
func TestEdgesAreRecorded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.post(t, fixture(t, "inbound_image.json")) // media id unknown to the emulator
	other := bytes.ReplaceAll(textFrom(awaWaID, "Awa", "wamid.other-number", "STOP"),
		[]byte(phoneNumberID), []byte("999999999999999"))
	b.post(t, other)
	b.db.Exec(t, `INSERT INTO whatsapp_template (name, wa_name, language_code, status, meta_template_id)
		VALUES ('Relance', 'invoice_reminder_v2', 'fr', 'PENDING', '594425479261596')`)
	review, _ := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{
		"id": emulator.DefaultWABAID, "changes": []any{map[string]any{"field": "message_template_status_update",
			"value": map[string]any{"event": "APPROVED", "message_template_id": 594425479261596,
				"message_template_name": "invoice_reminder_v2", "message_template_language": "fr", "reason": "NONE"}}}}}})
	b.post(t, review)
	b.drain(t)

	msgs := b.inbound(t)
	if len(msgs) != 2 {
		t.Fatalf("%d inbound rows, want 2", len(msgs))
	}
	image := msgs[0]
	if image.Type != "image" {
		image = msgs[1] // deliveries are processed concurrently, in any order
	}
	if !strings.HasPrefix(image.ErrorMessage, "media not downloaded") || image.AttachmentID != 0 || image.Content != "[Image] Black jacket" {
		t.Errorf("image row: %+v", image)
	}
	var config *int
	b.db.QueryRow(t, []any{&config}, `SELECT config_id FROM whatsapp_message WHERE wa_message_id = 'wamid.other-number'`)
	var optedOut bool
	b.db.QueryRow(t, []any{&optedOut}, `SELECT COALESCE(x_whatsapp_opt_out, false) FROM res_partner WHERE id = $1`, odoosim.PartnerAwa)
	if config != nil || !optedOut || len(b.replies(t, "+"+awaWaID)) != 0 {
		t.Errorf("other number: config %v, opted out %v, replies %+v", config, optedOut, b.replies(t, "+"+awaWaID))
	}
	var status string
	b.db.QueryRow(t, []any{&status}, `SELECT status FROM whatsapp_template WHERE wa_name = 'invoice_reminder_v2'`)
	if status != "APPROVED" {
		t.Errorf("template status %q", status)
	}

	b.db.Exec(t, `UPDATE whatsapp_sidecar.inbox SET processed_at = now() - interval '9 days'`)
	b.db.Exec(t, `UPDATE whatsapp_sidecar.inbound SET done_at = now() - interval '9 days'`)
	if err := b.processor.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	var left int
	b.db.QueryRow(t, []any{&left}, `SELECT (SELECT count(*) FROM whatsapp_sidecar.inbox) + (SELECT count(*) FROM whatsapp_sidecar.inbound)`)
	if left != 0 {
		t.Errorf("%d rows left after the purge", left)
	}
	// A redelivery after the purge is still recognised by its recorded wamid.
	b.post(t, fixture(t, "inbound_image.json"))
	b.drain(t)
	if n := len(b.inbound(t)); n != 2 {
		t.Errorf("%d inbound rows after a late redelivery", n)
	}
}

// A delivery whose processing panics is set aside (parked, with the panic as its
// reason, counted) and the other deliveries go on.
func TestFaultPanicParksTheDelivery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.post(t, textFrom(awaWaID, "Awa", "wamid.panics", "Bonjour"))
	b.post(t, textFrom(awaWaID, "Awa", "wamid.fine", "Merci"))
	var first int64
	b.db.QueryRow(t, []any{&first}, `SELECT min(id) FROM whatsapp_sidecar.inbox`)
	panics := prometheus.NewCounter(prometheus.CounterOpts{Name: "panics"})
	b.processor.Panics = panics
	b.processor.Concurrency = 1
	b.processor.Hooks = &inbound.Hooks{BeforeSettled: func(id int64) error {
		if id == first {
			panic("a bad delivery")
		}
		return nil
	}}
	b.drain(t)
	var parked int
	var reason string
	b.db.QueryRow(t, []any{&parked, &reason}, `SELECT count(*), COALESCE(max(last_error), '') FROM whatsapp_sidecar.inbox
		WHERE processed_at IS NULL AND available_at = 'infinity'`)
	if parked != 1 || !strings.Contains(reason, "panic: a bad delivery") {
		t.Errorf("%d parked deliveries (%q), want 1 with the panic as reason", parked, reason)
	}
	var processed int
	b.db.QueryRow(t, []any{&processed}, `SELECT count(*) FROM whatsapp_sidecar.inbox WHERE processed_at IS NOT NULL`)
	if processed != 1 || testutil.ToFloat64(panics) != 1 {
		t.Errorf("%d deliveries processed and %v panics counted, want 1 and 1", processed, testutil.ToFloat64(panics))
	}
}

// A click no action handles, on a message about an order, is recorded as the title
// the customer tapped with its id apart, and the order's chatter quotes the title
// marked as a click, never the button's technical id.
func TestClickReadsAsItsTitle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const sent = "wamid.order-26-sent"
	b.db.Exec(t, `INSERT INTO whatsapp_message (direction, wa_message_id, phone, status, kind, res_model, res_id, content)
		VALUES ('out', $1, '+221771234567', 'sent', 'order_created', 'sale.order', 26, 'Bonjour')`, sent)
	b.post(t, clickFrom(awaWaID, "wamid.click-later", sent, "btn_later_26", "Plus tard"))
	b.drain(t)

	msgs := b.inbound(t)
	if len(msgs) != 1 || msgs[0].Content != "Plus tard" || msgs[0].ButtonID != "btn_later_26" {
		t.Fatalf("inbound rows %+v, want content %q and button_id %q", msgs, "Plus tard", "btn_later_26")
	}
	notes := strings.Join(b.notes(t, "sale.order", 26), "\n")
	if !strings.Contains(notes, "🔘 Plus tard") || strings.Contains(notes, "btn_later") || strings.Contains(notes, "[Bouton") {
		t.Errorf("chatter = %q, want the click as 🔘 Plus tard", notes)
	}
}
