package emulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
)

// catalogueFromDoc is the template catalogue of Meta's documented
// message_templates answer, so the documented template send is valid.
func catalogueFromDoc(t *testing.T) []whatsapp.TemplateInfo {
	t.Helper()
	var page whatsapp.TemplatePage
	if err := json.Unmarshal(mustReadMeta(t, "responses/message_templates_page.json"), &page); err != nil {
		t.Fatal(err)
	}
	return append(emulator.DefaultTemplates(), page.Data...)
}

// TestContractSend sends every documented request of testdata/meta/requests
// through the client: the body the client puts on the wire must equal Meta's
// example, the answer must have the documented shape, and the status
// webhooks sent → delivered → read must have the documented shapes and echo
// biz_opaque_callback_data.
func TestContractSend(t *testing.T) {
	t.Parallel()

	docs := []string{
		"text", "text_reply", "image_id", "image_link", "document_id", "audio", "video", "sticker",
		"template", "interactive_button", "interactive_list", "interactive_cta_url", "location",
		"contacts", "reaction",
	}
	for _, name := range docs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, emulator.Knobs{}, func(c *emulator.Config, _ *whatsapp.Options) {
				c.Templates = catalogueFromDoc(t)
			})
			docBody := mustReadMeta(t, "requests/"+name+".json")
			var req whatsapp.SendRequest
			if err := json.Unmarshal(docBody, &req); err != nil {
				t.Fatal(err)
			}
			msg := req.Message
			if req.Context != nil {
				msg.ReplyTo = req.Context.MessageID
			}
			msg.BizOpaqueCallbackData = "whatsapp_message:42"

			res, err := b.client.Send(context.Background(), phoneID, msg)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if res.WaID != userWaID || !strings.HasPrefix(res.MessageID, "wamid.") || res.Input != msg.To {
				t.Fatalf("SendResult = %+v", res)
			}
			assertSameShape(t, "responses/send_success.json", res.Raw)

			// The body on the wire is Meta's documented body.
			sent := lastRequest(t, b.srv, "/messages")
			want := mustJSON(t, docBody).(map[string]any)
			want["biz_opaque_callback_data"] = "whatsapp_message:42"
			if got := mustJSON(t, sent.Body); !reflect.DeepEqual(got, any(want)) {
				t.Fatalf("request body differs from Meta's example\n got: %s\nwant: %s", sent.Body, mustMarshal(want))
			}

			for _, st := range []string{"sent", "delivered", "read"} {
				w := b.hooks.next(t)
				assertSameShape(t, "webhooks/status_"+st+".json", w.raw)
				s := statusesOf(w)
				if len(s) != 1 || s[0].Status != st || s[0].ID != res.MessageID || s[0].RecipientID != userWaID ||
					s[0].BizOpaqueCallbackData != "whatsapp_message:42" {
					t.Fatalf("status webhook %d = %+v, want %s of %s", len(s), s, st, res.MessageID)
				}
			}
			if got := b.srv.Messages(userWaID); len(got) != 1 || got[0].Status != "read" || got[0].Type != string(msg.Type) {
				t.Fatalf("conversation = %+v", got)
			}
		})
	}
}

func mustMarshal(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestContractMarkRead(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Knobs{})
	wamid, err := b.srv.SendInbound(emulator.Inbound{From: userWaID, Type: "text", Text: "Bonjour"})
	if err != nil {
		t.Fatal(err)
	}
	b.hooks.next(t)
	if err := b.client.MarkRead(context.Background(), phoneID, wamid); err != nil {
		t.Fatalf("MarkRead: %v", err)
	}
	r := lastRequest(t, b.srv, "/messages")
	assertSameShape(t, "requests/mark_read.json", r.Body)
	assertSameShape(t, "responses/success.json", r.Response)
	if got := b.srv.Messages(userWaID); got[0].Status != "read" {
		t.Fatalf("inbound message status %q, want read", got[0].Status)
	}

	err = b.client.MarkRead(context.Background(), phoneID, "wamid.unknown")
	if whatsapp.Classify(err) != whatsapp.ClassInvalidRequest {
		t.Fatalf("MarkRead(unknown) = %v, want invalid request", err)
	}
}

// TestContractInbound simulates a user sending every inbound type and checks
// the webhook against Meta's documented payload.
func TestContractInbound(t *testing.T) {
	t.Parallel()

	loc := &whatsapp.Location{Latitude: 37.483307, Longitude: -122.148981, Name: "Main Street Beach",
		Address: "1 Hacker Way, Menlo Park, CA 94025", URL: "https://www.example.com"}
	var docContacts struct {
		Entry []struct {
			Changes []struct {
				Value struct {
					Messages []struct {
						Contacts []whatsapp.Contact `json:"contacts"`
					} `json:"messages"`
				} `json:"value"`
			} `json:"changes"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(mustReadMeta(t, "webhooks/inbound_contacts.json"), &docContacts); err != nil {
		t.Fatal(err)
	}
	contacts := docContacts.Entry[0].Changes[0].Value.Messages[0].Contacts

	tests := []struct {
		doc string
		in  emulator.Inbound
	}{
		{"inbound_text", emulator.Inbound{Type: "text", Text: "Does it come in another color?"}},
		{"inbound_text_reply", emulator.Inbound{Type: "text", Text: "Yes", ContextID: "wamid.ctx"}},
		{"inbound_image", emulator.Inbound{Type: "image", Caption: "Black jacket", Data: []byte{0xff, 0xd8, 0xff}}},
		{"inbound_document", emulator.Inbound{Type: "document", Caption: "Invoice scan", Filename: "invoice.pdf"}},
		{"inbound_audio", emulator.Inbound{Type: "audio", Voice: true}},
		{"inbound_video", emulator.Inbound{Type: "video", Caption: "Unboxing"}},
		{"inbound_sticker", emulator.Inbound{Type: "sticker"}},
		{"inbound_location", emulator.Inbound{Type: "location", Location: loc}},
		{"inbound_contacts", emulator.Inbound{Type: "contacts", Contacts: contacts}},
		{"inbound_reaction", emulator.Inbound{Type: "reaction", Emoji: "👍", ReactTo: "wamid.x"}},
		{"inbound_reaction_removed", emulator.Inbound{Type: "reaction", ReactTo: "wamid.x"}},
		{"inbound_interactive_button_reply", emulator.Inbound{Type: "button_reply", ID: "cancel-button", Title: "Cancel", ContextID: "wamid.ctx"}},
		{"inbound_interactive_list_reply", emulator.Inbound{Type: "list_reply", ID: "priority_express", Title: "Priority Mail Express", Description: "Next Day to 2 Days", ContextID: "wamid.ctx"}},
		{"inbound_button", emulator.Inbound{Type: "button", Payload: "Unsubscribe from Promos", ContextID: "wamid.ctx"}},
		{"inbound_unsupported", emulator.Inbound{Type: "unsupported", UnsupportedType: "poll_update"}},
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			t.Parallel()
			b := setup(t, emulator.Knobs{})
			tt.in.From, tt.in.Name = "+"+userWaID, "Sheena Nelson"
			wamid, err := b.srv.SendInbound(tt.in)
			if err != nil {
				t.Fatalf("SendInbound: %v", err)
			}
			w := b.hooks.next(t)
			assertSameShape(t, "webhooks/"+tt.doc+".json", w.raw)
			m := w.payload.Entry[0].Changes[0].Value.Messages[0]
			if m.ID != wamid || m.From != userWaID {
				t.Fatalf("message %+v, want id %s from %s", m, wamid, userWaID)
			}
			for _, media := range []*whatsapp.InboundMedia{m.Image, m.Document, m.Audio, m.Video, m.Sticker} {
				if media == nil {
					continue
				}
				info, err := b.client.MediaInfo(context.Background(), media.ID)
				if err != nil {
					t.Fatalf("MediaInfo: %v", err)
				}
				data, mt, err := b.client.DownloadMedia(context.Background(), info.URL)
				if err != nil || mt != media.MimeType || int64(len(data)) != info.FileSize || info.SHA256 != media.SHA256 {
					t.Fatalf("download = %d bytes %q %v; info %+v", len(data), mt, err, info)
				}
			}
		})
	}
}

// TestInboundReplyFindsButton: a tap on a button offered by a message the
// business sent carries that message's wamid as context and the button's
// title, as Meta's webhook does.
func TestInboundReplyFindsButton(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Knobs{StopAt: "sent"})
	ctx := context.Background()
	res, err := b.client.Send(ctx, phoneID, whatsapp.ButtonsMessage("+"+userWaID, "Valider la commande S00042 ?",
		whatsapp.ButtonReply{ID: "btn_validate_order_42", Title: "Valider"},
		whatsapp.ButtonReply{ID: "btn_cancel_order_42", Title: "Annuler"}))
	if err != nil {
		t.Fatal(err)
	}
	b.hooks.next(t) // sent
	if _, err := b.srv.SendInbound(emulator.Inbound{From: userWaID, Type: "button_reply", ID: "btn_cancel_order_42"}); err != nil {
		t.Fatal(err)
	}
	m := b.hooks.next(t).payload.Entry[0].Changes[0].Value.Messages[0]
	if m.Type != "interactive" || m.Interactive.ButtonReply.Title != "Annuler" || m.Context.ID != res.MessageID ||
		m.Context.From != emulator.DefaultDisplayPhoneNumber {
		t.Fatalf("button reply = %+v %+v %+v", m, m.Interactive, m.Context)
	}
	if _, err := b.srv.SendInbound(emulator.Inbound{From: userWaID, Type: "button_reply", ID: "btn_unknown"}); err == nil {
		t.Fatal("reply to a button never offered: want error")
	}
}

// TestContractErrors checks the emulator's error bodies against Meta's.
func TestContractErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		doc   string
		knobs emulator.Knobs
		prep  func(*bundle)
		msg   whatsapp.Message
		code  int
	}{
		{"errors/130429_rate_limit.json", emulator.Knobs{ThroughputCap: 0.001}, nil,
			whatsapp.TextMessage("+"+userWaID, "hi"), 130429},
		{"errors/131047_re_engagement.json", emulator.Knobs{SyncFailures: true}, func(b *bundle) { b.srv.CloseWindow(userWaID) },
			whatsapp.TextMessage("+"+userWaID, "hi"), 131047},
		{"errors/132001_template_missing.json", emulator.Knobs{}, nil,
			whatsapp.TemplateMessage("+"+userWaID, "order_confirmation", "en_US"), 132001},
		{"errors/190_expired.json", emulator.Knobs{}, func(b *bundle) { b.srv.ExpireToken() },
			whatsapp.TextMessage("+"+userWaID, "hi"), 190},
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.knobs)
			if tt.prep != nil {
				tt.prep(b)
			}
			var err error
			for range 2 { // the throughput case fails on the second send
				if _, err = b.client.Send(context.Background(), phoneID, tt.msg); err != nil {
					break
				}
			}
			ae, ok := errors.AsType[*whatsapp.APIError](err)
			if !ok || ae.Code != tt.code || ae.FBTraceID == "" {
				t.Fatalf("err = %v, want API error %d", err, tt.code)
			}
			assertSameShape(t, tt.doc, lastRequest(t, b.srv, "/messages").Response)
		})
	}
	t.Run("InvalidParameter", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emulator.Knobs{})
		// The client validates first, so send a bad body by hand.
		body := `{"messaging_product":"whatsapp","to":"+16505551234","type":"interactive","interactive":{"type":"button",` +
			`"body":{"text":"x"},"action":{"buttons":[{"type":"reply","reply":{"id":"a","title":"This title is far too long"}}]}}}`
		status, resp := rawPost(t, b.srv.BaseURL()+"/"+phoneID+"/messages", testToken, body)
		if status != http.StatusBadRequest || !strings.Contains(string(resp), "interactive.action.buttons[0].reply.title") {
			t.Fatalf("status %d body %s", status, resp)
		}
		assertSameShape(t, "errors/100_invalid_parameter.json", resp)
	})
}

func rawPost(t *testing.T, url, token, body string) (int, []byte) {
	t.Helper()
	return rawDo(t, http.MethodPost, url, token, strings.NewReader(body))
}

func rawGet(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	return rawDo(t, http.MethodGet, url, token, nil)
}

func rawDo(t *testing.T, method, url, token string, body io.Reader) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, body)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	http.DefaultClient.CloseIdleConnections()
	return resp.StatusCode, out
}

func TestContractMediaAndTemplates(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Knobs{}, func(c *emulator.Config, _ *whatsapp.Options) {
		c.Templates = append(catalogueFromDoc(t), whatsapp.TemplateInfo{ID: "3", Name: "third", Language: "fr", Status: "APPROVED", Category: "UTILITY"})
	})
	ctx := context.Background()

	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{1}, 100)...)
	id, err := b.client.UploadMedia(ctx, phoneID, "logo.png", "image/png", bytes.NewReader(png))
	if err != nil {
		t.Fatalf("UploadMedia: %v", err)
	}
	assertSameShape(t, "responses/media_upload.json", lastRequest(t, b.srv, "/media").Response)
	info, err := b.client.MediaInfo(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	assertSameShape(t, "responses/media_info.json", lastRequest(t, b.srv, "/"+id).Response)
	data, mt, err := b.client.DownloadMedia(ctx, info.URL)
	if err != nil || !bytes.Equal(data, png) || mt != "image/png" {
		t.Fatalf("DownloadMedia = %d bytes %q %v", len(data), mt, err)
	}

	// Meta's page: limit and cursors; one template per page.
	status, page := rawGet(t, b.srv.BaseURL()+"/"+emulator.DefaultWABAID+"/message_templates?limit=1", testToken)
	if status != http.StatusOK {
		t.Fatalf("templates: %d %s", status, page)
	}
	var p whatsapp.TemplatePage
	_ = json.Unmarshal(page, &p)
	if p.Paging == nil || p.Paging.Next == "" || len(p.Data) != 1 {
		t.Fatalf("page = %s", page)
	}
	status, page = rawGet(t, b.srv.BaseURL()+"/"+emulator.DefaultWABAID+"/message_templates?limit=1&after="+p.Paging.Cursors.After, testToken)
	if status != http.StatusOK {
		t.Fatalf("templates page 2: %d %s", status, page)
	}
	assertSameShape(t, "responses/message_templates_page.json", page)
}
