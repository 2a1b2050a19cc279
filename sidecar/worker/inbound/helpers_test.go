package inbound_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/accounts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/invoicepdf"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/config"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/listen"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator/emulatortest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/webhook"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/compose"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/inbound"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/send"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	token         = "EAAG-inbound-test-token"
	appSecret     = "inbound-test-app-secret"
	phoneNumberID = emulator.DefaultPhoneNumberID // the number in Meta's documented payloads
	sheena        = "16505551234"                 // the user in Meta's documented payloads
	awaWaID       = "221771234567"                // partner 42, mobile "+221 77 123 45 67"
)

// bundle is a sidecar-installed Odoo database with one active WhatsApp config for
// company 1, the intake serving Meta's webhook in front of its inbox, the
// processor, and an emulator of Meta posting its webhooks to that intake.
type bundle struct {
	db        *pgtest.DB
	pool      *pgxpool.Pool
	emu       *emulator.Server
	accounts  *accounts.Registry
	processor *inbound.Processor
	composer  *compose.Composer
	sender    *send.Sender
	intake    *httptest.Server
	// stored rings each time the intake stores a delivery.
	stored listen.Bell
}

func setup(t testing.TB) *bundle {
	t.Helper()
	ctx := context.Background()
	db := pgtest.NewDB(t, pgtest.Sidecar)
	b := &bundle{db: db, pool: db.Pool(t), stored: listen.NewBell()}
	handler := &webhook.Handler{Inbox: &webhook.PoolInbox{Pool: b.pool}, Bell: b.stored}
	b.intake = httptest.NewServer(handler)
	t.Cleanup(b.intake.Close)

	b.emu = emulatortest.Start(t, emulator.Config{AccessToken: token, AppSecret: appSecret, PhoneNumberID: phoneNumberID,
		WebhookURL: b.intake.URL + webhook.Path, Knobs: emulator.Knobs{WebhookRetryDelay: 50 * time.Millisecond}})

	db.Exec(t, `INSERT INTO whatsapp_config (name, phone_number_id, access_token, facebook_app_secret, verify_token,
		company_id, default_country_code, auto_send_order_creation, auto_send_unpaid_invoices, is_active,
		payment_wave_text, payment_orange_text)
		VALUES ('Boutique', $1, $2, $3, 'verify', 1, 'SN', true, true, true,
		'https://pay.wave.com/m/M_sn_test/c/sn/?amount={amount}', 'Orange Money : composez #144# et payez {amount_residual} pour {invoice_name}.')`,
		phoneNumberID, token, appSecret)
	b.accounts = accounts.New(accounts.Options{Env: config.WhatsApp{APIURL: b.emu.BaseURL()}})
	if err := b.accounts.Load(ctx, b.pool); err != nil {
		t.Fatal(err)
	}
	handler.Secrets = webhook.AccountSecrets{Accounts: b.accounts}
	b.processor = &inbound.Processor{Pool: b.pool, Accounts: b.accounts}
	b.composer = &compose.Composer{Pool: b.pool, Accounts: b.accounts}
	b.sender = &send.Sender{Pool: b.pool, Accounts: b.accounts, PDFs: &invoicepdf.Source{},
		PairInterval: time.Millisecond, PairBurst: 100, Backoff: func(int) time.Duration { return 0 }}
	return b
}

// fixture reads one of Meta's documented payloads (testdata/meta, sources in its README).
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	root, err := pgtest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(filepath.Join(root, "testdata", "meta", "webhooks", name))
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// post delivers a body as Meta does, signed with the app secret, and expects 200.
func (b *bundle) post(t *testing.T, body []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.intake.URL+webhook.Path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign([]byte(appSecret), body))
	resp, err := b.intake.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("intake answered %d", resp.StatusCode)
	}
}

// drain processes every stored delivery.
func (b *bundle) drain(t testing.TB) {
	t.Helper()
	if _, err := b.processor.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// send sends every queued reply to the emulator.
func (b *bundle) send(t *testing.T) {
	t.Helper()
	if _, err := b.sender.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// await processes what the emulator posts until cond holds: it waits for the
// intake's signal that a delivery was stored, never for a fixed time (the deadline
// only stops a hung test).
func (b *bundle) await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		b.drain(t)
		if cond() {
			return
		}
		select {
		case <-b.stored:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// sent returns the bodies of the messages the emulator received, in order.
func (b *bundle) sent(t *testing.T) []whatsapp.SendRequest {
	t.Helper()
	var out []whatsapp.SendRequest
	for _, r := range b.emu.Requests() {
		if !strings.HasSuffix(r.Path, "/messages") || r.Status != http.StatusOK {
			continue
		}
		var req whatsapp.SendRequest
		if err := json.Unmarshal(r.Body, &req); err != nil {
			t.Fatalf("emulator recorded an unreadable body: %s", r.Body)
		}
		if req.Status == "read" {
			continue // mark-as-read
		}
		out = append(out, req)
	}
	return out
}

func text(req whatsapp.SendRequest) string {
	switch {
	case req.Text != nil:
		return req.Text.Body
	case req.Interactive != nil:
		return req.Interactive.Body.Text
	case req.Document != nil:
		return req.Document.Caption
	}
	return ""
}

// reply is a queued or sent answer to the customer.
type reply struct {
	Kind, Type, Content, Phone, Status, ResModel string
	ResID                                        int
}

// replies are the outbound rows of a conversation's number, in queue order.
func (b *bundle) replies(t *testing.T, e164 string) []reply {
	t.Helper()
	rows, err := b.pool.Query(context.Background(), `
		SELECT COALESCE(kind, ''), message_type, COALESCE(content, ''), COALESCE(phone, ''), status,
		    COALESCE(res_model, ''), COALESCE(res_id, 0)
		FROM whatsapp_message WHERE direction = 'out' AND phone = $1 ORDER BY id`, e164)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []reply
	for rows.Next() {
		var r reply
		if err := rows.Scan(&r.Kind, &r.Type, &r.Content, &r.Phone, &r.Status, &r.ResModel, &r.ResID); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// notes are the chatter notes of a record, oldest first.
func (b *bundle) notes(t *testing.T, model string, id int) []string {
	t.Helper()
	rows, err := b.pool.Query(context.Background(), `SELECT body FROM mail_message WHERE model = $1 AND res_id = $2
		AND create_date > now() AT TIME ZONE 'utc' - interval '1 hour' ORDER BY id`, model, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			t.Fatal(err)
		}
		out = append(out, body)
	}
	return out
}

// payload wraps messages or statuses in Meta's envelope, as the emulator does.
func payload(value whatsapp.WebhookValue) []byte {
	value.MessagingProduct = "whatsapp"
	value.Metadata = whatsapp.WebhookMetadata{DisplayPhoneNumber: emulator.DefaultDisplayPhoneNumber, PhoneNumberID: phoneNumberID}
	body, _ := json.Marshal(whatsapp.WebhookPayload{Object: "whatsapp_business_account", Entry: []whatsapp.WebhookEntry{{
		ID: emulator.DefaultWABAID, Changes: []whatsapp.WebhookChange{{Field: "messages", Value: value}},
	}}})
	return body
}

// textFrom is a text message from waID.
func textFrom(waID, name, wamid, body string) []byte {
	return payload(whatsapp.WebhookValue{
		Contacts: []whatsapp.WebhookContact{{Profile: whatsapp.WebhookProfile{Name: name}, WaID: waID}},
		Messages: []whatsapp.InboundMessage{{From: waID, ID: wamid, Timestamp: unix(time.Now()), Type: "text",
			Text: &whatsapp.Text{Body: body}}},
	})
}

// clickFrom is a reply-button click from waID on the message contextID.
func clickFrom(waID, wamid, contextID, buttonID, title string) []byte {
	return payload(whatsapp.WebhookValue{
		Contacts: []whatsapp.WebhookContact{{Profile: whatsapp.WebhookProfile{Name: "Client"}, WaID: waID}},
		Messages: []whatsapp.InboundMessage{{From: waID, ID: wamid, Timestamp: unix(time.Now()), Type: "interactive",
			Context: &whatsapp.InboundContext{From: emulator.DefaultDisplayPhoneNumber, ID: contextID},
			Interactive: &whatsapp.InboundInteractive{Type: "button_reply",
				ButtonReply: &whatsapp.ButtonReply{ID: buttonID, Title: title}}}},
	})
}

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
