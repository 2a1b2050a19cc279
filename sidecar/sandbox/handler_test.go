package sandbox_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/sandbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator/emulatortest"
)

const customer = "221771234567"

// startPage serves the page on a free loopback port over an emulator without a
// webhook receiver and an Odoo database with the sidecar installed.
func startPage(t *testing.T) (*sandbox.Server, *emulator.Server) {
	t.Helper()
	db := pgtest.NewDB(t, pgtest.Sidecar)
	emu := emulatortest.Start(t, emulator.Config{AccessToken: "tok"})
	page, err := sandbox.Start(context.Background(), "127.0.0.1:0", sandbox.Options{Emulator: emu, Pool: db.Pool(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := page.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return page, emu
}

func request(t *testing.T, method, url string, header map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Close = true // no idle connection outlives the test
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// sseEvent is one server-sent event.
type sseEvent struct {
	name string
	data string
}

// events opens the page's event stream; the channel closes when the stream ends.
func events(t *testing.T, page *sandbox.Server) <-chan sseEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, page.URL()+"api/events", nil)
	req.Close = true
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	ch := make(chan sseEvent, 64)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			case line == "" && ev.name != "":
				ch <- ev
				ev = sseEvent{}
			}
		}
	}()
	return ch
}

func next(t *testing.T, ch <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("event stream ended")
		}
		return ev
	case <-time.After(waitTimeout):
		t.Fatal("no event")
		return sseEvent{}
	}
}

func TestEventsStartWithASnapshotThenFollowTheEmulator(t *testing.T) {
	t.Parallel()
	page, emu := startPage(t)
	// Already there before the page opens: in the snapshot.
	if _, err := emu.SendInbound(emulator.Inbound{From: customer, Type: "text", Text: "Bonjour"}); err == nil {
		t.Fatal("SendInbound without a webhook URL did not say so")
	}
	stream := events(t, page)
	snap := next(t, stream)
	var s struct {
		Lang  string `json:"lang"`
		Chats []struct {
			WaID     string `json:"wa_id"`
			Messages []struct {
				Text      string `json:"text"`
				Direction string `json:"direction"`
			} `json:"messages"`
		} `json:"chats"`
	}
	if err := json.Unmarshal([]byte(snap.data), &s); err != nil || snap.name != "snapshot" {
		t.Fatalf("first event %s %s: %v", snap.name, snap.data, err)
	}
	if s.Lang != "fr" || len(s.Chats) != 1 || s.Chats[0].WaID != customer || s.Chats[0].Messages[0].Text != "Bonjour" {
		t.Fatalf("snapshot %+v, want the customer's Bonjour, in French (no account yet)", s)
	}

	// Sent after: live, with its buttons.
	hc := whatsapp.NewHTTPClient()
	t.Cleanup(hc.CloseIdleConnections)
	client, err := whatsapp.NewClient(whatsapp.Options{BaseURL: emu.BaseURL(), AccessToken: "tok", HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	res, err := client.Send(context.Background(), emulator.DefaultPhoneNumberID, whatsapp.ButtonsMessage("+"+customer, "Votre devis S00042",
		whatsapp.ButtonReply{ID: "btn_validate_order_42", Title: "Valider"}, whatsapp.ButtonReply{ID: "btn_cancel_order_42", Title: "Annuler"}))
	if err != nil {
		t.Fatal(err)
	}
	var statuses []string
	for len(statuses) < 2 {
		ev := next(t, stream)
		var pe struct {
			Type    string `json:"type"`
			Message struct {
				ID      string `json:"id"`
				Status  string `json:"status"`
				Text    string `json:"text"`
				Buttons []struct{ Kind, ID, Title string }
			} `json:"message"`
		}
		if err := json.Unmarshal([]byte(ev.data), &pe); err != nil || ev.name != "message" {
			t.Fatalf("event %s %s: %v", ev.name, ev.data, err)
		}
		if pe.Message.ID != res.MessageID {
			continue // the Bonjour may come again: the page applies a message's state twice, harmlessly
		}
		if len(pe.Message.Buttons) != 2 || pe.Message.Buttons[0].ID != "btn_validate_order_42" || pe.Message.Text != "Votre devis S00042" {
			t.Fatalf("message %+v, want the text and both buttons", pe.Message)
		}
		statuses = append(statuses, pe.Message.Status)
	}
	if strings.Join(statuses, " ") != "accepted read" { // no webhook receiver: the final status at once
		t.Fatalf("statuses %v", statuses)
	}
}

func TestCloseEndsTheOpenPages(t *testing.T) {
	t.Parallel()
	page, _ := startPage(t)
	stream := events(t, page)
	next(t, stream) // the snapshot: the stream is open
	if err := page.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ev, ok := <-stream; ok {
		t.Fatalf("event %s after Close, want the stream ended", ev.name)
	}
}

func TestPageAnswersOnlyToThisMachine(t *testing.T) {
	t.Parallel()
	page, _ := startPage(t)
	resp, body := request(t, "GET", page.URL(), nil, "")
	if resp.StatusCode != 200 || !strings.Contains(body, "/assets/app.js") || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Fatalf("page: %d, CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	for _, asset := range []string{"assets/app.js", "assets/app.css"} {
		if resp, _ := request(t, "GET", page.URL()+asset, nil, ""); resp.StatusCode != 200 {
			t.Errorf("%s: %d", asset, resp.StatusCode)
		}
	}
	// A site that rebinds its own name to 127.0.0.1 is refused.
	if resp, _ := request(t, "GET", page.URL()+"api/events", map[string]string{"Host": "attacker.example"}, ""); resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("events for another host name: %d, want 421", resp.StatusCode)
	}
	// Another site's page cannot post as the customer.
	resp, _ = request(t, "POST", page.URL()+"api/chats/"+customer+"/messages",
		map[string]string{"Content-Type": "application/json", "Origin": "https://attacker.example", "Sec-Fetch-Site": "cross-site"},
		`{"type":"text","text":"STOP"}`)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site post: %d, want 403", resp.StatusCode)
	}
}

func TestCustomerMessages(t *testing.T) {
	t.Parallel()
	page, emu := startPage(t)
	post := func(body string) (int, string) {
		resp, b := request(t, "POST", page.URL()+"api/chats/"+customer+"/messages",
			map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "same-origin"}, body)
		return resp.StatusCode, b
	}
	for _, c := range []struct{ body, want string }{
		{`{"type":"text","text":"   "}`, "text: 1 to 4096"},
		{`{"type":"location"}`, "type: text, button_reply"},
		{`{"type":"button_reply","id":"btn_validate_order_1"}`, "no outbound message"},
		{`{"type":"text","text":"hi","extra":1}`, "unknown field"},
	} {
		if status, body := post(c.body); status != http.StatusBadRequest || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s, want 400 saying %q", c.body, status, body, c.want)
		}
	}
	// No webhook receiver: the emulator keeps the message and says nobody got it.
	if status, body := post(`{"type":"text","text":"STOP"}`); status != http.StatusServiceUnavailable || !strings.Contains(body, "no webhook URL") {
		t.Errorf("text: %d %s", status, body)
	}
	if ms := emu.Messages(customer); len(ms) != 1 || ms[0].Direction != "in" {
		t.Errorf("emulator conversation %+v, want the customer's STOP", ms)
	}
}

func TestMediaServesWhatTheEmulatorStores(t *testing.T) {
	t.Parallel()
	page, emu := startPage(t)
	pdf, err := emu.PutMedia(emulator.DefaultPhoneNumberID, "application/pdf", []byte("%PDF-1.4 facture"))
	if err != nil {
		t.Fatal(err)
	}
	zip, err := emu.PutMedia(emulator.DefaultPhoneNumberID, "application/zip", []byte("PK"))
	if err != nil {
		t.Fatal(err)
	}
	resp, body := request(t, "GET", page.URL()+"media/"+pdf+"?name=INV_2026_00005.pdf", nil, "")
	if resp.StatusCode != 200 || body != "%PDF-1.4 facture" || resp.Header.Get("Content-Type") != "application/pdf" ||
		resp.Header.Get("Content-Disposition") != `inline; filename=INV_2026_00005.pdf` {
		t.Errorf("pdf: %d %s %q %q", resp.StatusCode, body, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
	}
	if resp, _ := request(t, "GET", page.URL()+"media/"+zip, nil, ""); !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("zip: %q, want downloaded, not shown", resp.Header.Get("Content-Disposition"))
	}
	if resp, _ := request(t, "GET", page.URL()+"media/1234", nil, ""); resp.StatusCode != 404 {
		t.Errorf("unknown media: %d", resp.StatusCode)
	}
}
