package send_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/accounts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/odoosim"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/invoicepdf"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/config"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator/emulatortest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/compose"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/send"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/writeback"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	token         = "EAAG-test-token"
	phoneNumberID = "106540352242922"
)

type bundle struct {
	db       *pgtest.DB
	pool     *pgxpool.Pool
	emu      *emulator.Server
	accounts *accounts.Registry
	composer *compose.Composer
	sender   *send.Sender
	writer   *writeback.Writer
}

// setup is a sidecar-installed Odoo database with one active WhatsApp config for
// company 1, talking to a fresh emulator.
func setup(t *testing.T) *bundle { return setupB(t) }

func setupB(t testing.TB) *bundle {
	t.Helper()
	ctx := context.Background()
	db := pgtest.NewDB(t, pgtest.Sidecar)
	emu := emulatortest.Start(t, emulator.Config{AccessToken: token, AppSecret: "app-secret", PhoneNumberID: phoneNumberID})
	db.Exec(t, `INSERT INTO whatsapp_config (name, phone_number_id, access_token, company_id, default_country_code,
		auto_send_order_creation, auto_send_unpaid_invoices, is_active)
		VALUES ('Boutique', $1, $2, 1, 'SN', true, true, true)`, phoneNumberID, token)
	reg := accounts.New(accounts.Options{Env: config.WhatsApp{APIURL: emu.BaseURL()}})
	if err := reg.Load(ctx, db.Pool(t)); err != nil {
		t.Fatal(err)
	}
	b := &bundle{db: db, pool: db.Pool(t), emu: emu, accounts: reg}
	b.composer = &compose.Composer{Pool: db.Pool(t), Accounts: reg}
	b.sender = &send.Sender{Pool: db.Pool(t), Accounts: reg, PDFs: &invoicepdf.Source{},
		PairInterval: time.Millisecond, PairBurst: 100, Backoff: func(int) time.Duration { return 0 }}
	b.writer = &writeback.Writer{Pool: db.Pool(t)}
	return b
}

// flush composes pending events, sends what they queued and writes back into Odoo
// what was sent (nothing else runs on the database: it is quiet).
func (b *bundle) flush(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if _, err := b.composer.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.sender.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if _, waiting, err := b.writer.Drain(ctx); err != nil || waiting {
		t.Fatalf("write-back: %v (waiting for a quiet database: %v)", err, waiting)
	}
}

// sent returns the message bodies the emulator received, in order.
func (b *bundle) sent(t *testing.T) []whatsapp.SendRequest {
	t.Helper()
	var out []whatsapp.SendRequest
	for _, r := range b.emu.Requests() {
		if !strings.HasSuffix(r.Path, "/messages") {
			continue
		}
		var req whatsapp.SendRequest
		if err := json.Unmarshal(r.Body, &req); err != nil {
			t.Fatalf("emulator recorded an unreadable body: %s", r.Body)
		}
		out = append(out, req)
	}
	return out
}

type row struct {
	Status, Phone, Kind, Type, WaMessageID, Error string
}

func (b *bundle) rows(t *testing.T, model string, resID int) []row {
	t.Helper()
	rows, err := b.db.Pool(t).Query(context.Background(), `
		SELECT status, COALESCE(phone, ''), COALESCE(kind, ''), message_type, COALESCE(wa_message_id, ''), COALESCE(error_message, '')
		FROM whatsapp_message WHERE res_model = $1 AND res_id = $2 ORDER BY id`, model, resID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.Status, &r.Phone, &r.Kind, &r.Type, &r.WaMessageID, &r.Error); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func buttonIDs(req whatsapp.SendRequest) []string {
	var ids []string
	if req.Interactive != nil {
		for _, b := range req.Interactive.Action.Buttons {
			ids = append(ids, b.Reply.ID+"="+b.Reply.Title)
		}
	}
	return ids
}

// A quotation saved in Odoo reaches the customer as the seed's message with its
// three buttons; the row, the flags and the chatter say so.
func TestOrderCreatedReachesTheCustomer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	order, err := odoosim.NewQuotation(ctx, b.db.Pool(t), odoosim.PartnerMoussa, 150000, 27000)
	if err != nil {
		t.Fatal(err)
	}
	b.flush(t)

	reqs := b.sent(t)
	if len(reqs) != 1 {
		t.Fatalf("emulator got %d messages, want 1", len(reqs))
	}
	req := reqs[0]
	if req.To != "+221771234568" || req.Type != "interactive" {
		t.Errorf("sent %s to %s, want interactive to +221771234568 (Moussa's \"77 123 45 68\" read as Senegalese)", req.Type, req.To)
	}
	body := req.Interactive.Body.Text
	for _, want := range []string{"Moussa Diop", "177 000 F CFA", "YourCompany"} {
		if !strings.Contains(body, want) {
			t.Errorf("body %q does not contain %q", body, want)
		}
	}
	wantButtons := []string{
		fmt.Sprintf("btn_validate_order_%d=Valider", order),
		fmt.Sprintf("btn_cancel_order_%d=Annuler", order),
		fmt.Sprintf("btn_view_order_details_%d=Voir détail", order),
	}
	if got := buttonIDs(req); fmt.Sprint(got) != fmt.Sprint(wantButtons) {
		t.Errorf("buttons %v, want %v", got, wantButtons)
	}
	rows := b.rows(t, "sale.order", order)
	if len(rows) != 1 || rows[0].Status != "sent" || rows[0].WaMessageID == "" || rows[0].Kind != "order_created" {
		t.Fatalf("rows = %+v, want one sent order_created row with its wamid", rows)
	}
	if req.BizOpaqueCallbackData == "" || !strings.HasPrefix(req.BizOpaqueCallbackData, "sidecar:") {
		t.Errorf("biz_opaque_callback_data = %q, want the row id", req.BizOpaqueCallbackData)
	}
	var flagged bool
	var notes int
	b.db.QueryRow(t, []any{&flagged, &notes}, `
		SELECT COALESCE(x_whatsapp_creation_sent, false) AND x_whatsapp_creation_sent_date IS NOT NULL,
		       (SELECT count(*) FROM mail_message WHERE model = 'sale.order' AND res_id = $1 AND body LIKE '%WhatsApp envoyé au +221771234568%')
		FROM sale_order WHERE id = $1`, order)
	if !flagged || notes != 1 {
		t.Errorf("x_whatsapp_creation_sent set: %v, chatter notes: %d; want true and 1", flagged, notes)
	}
}

// Each notification of the seed module, driven by what Odoo writes.
func TestNotifications(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		write func(ctx context.Context, b *bundle) (model string, id int, err error)
		// want: per message, its type and words it must contain
		want [][]string
	}{
		{"OrderConfirmed", func(ctx context.Context, b *bundle) (string, int, error) {
			return "sale.order", odoosim.OrderDraft, odoosim.ConfirmOrder(ctx, b.pool, odoosim.OrderDraft)
		}, [][]string{{"text", "S00026", "est confirmée", "224 200 F CFA"}}},
		{"OrderCancelled", func(ctx context.Context, b *bundle) (string, int, error) {
			return "sale.order", odoosim.OrderDraft, odoosim.CancelOrder(ctx, b.pool, odoosim.OrderDraft)
		}, [][]string{{"text", "S00026", "annulée"}}},
		{"InvoicePosted", func(ctx context.Context, b *bundle) (string, int, error) {
			id, err := odoosim.NewInvoice(ctx, b.pool, odoosim.PartnerAwa, 45000, 8100)
			if err != nil {
				return "", 0, err
			}
			_, err = odoosim.PostInvoice(ctx, b.pool, id)
			return "account.move", id, err
		}, [][]string{{"document", "INV_", ".pdf", "53 100 F CFA"}, {"interactive", "btn_pay_wave_", "btn_pay_orange_", "btn_download_invoice_"}}},
		{"PartialPayment", func(ctx context.Context, b *bundle) (string, int, error) {
			_, err := odoosim.RegisterPayment(ctx, b.pool, odoosim.InvoiceNotPaid, 71400)
			return "account.move", odoosim.InvoiceNotPaid, err
		}, [][]string{{"text", "INV/2026/00005", "71 400 F CFA", "200 000 F CFA"}}},
		{"PaidInFull", func(ctx context.Context, b *bundle) (string, int, error) {
			_, err := odoosim.RegisterPayment(ctx, b.pool, odoosim.InvoicePartPaid, 269050)
			return "account.move", odoosim.InvoicePartPaid, err
		}, [][]string{{"text", "INV/2026/00006", "entièrement payée"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			model, id, err := c.write(context.Background(), b)
			if err != nil {
				t.Fatal(err)
			}
			b.flush(t)
			reqs := b.sent(t)
			if len(reqs) != len(c.want) {
				t.Fatalf("emulator got %d messages, want %d: %+v", len(reqs), len(c.want), reqs)
			}
			for i, want := range c.want {
				raw, _ := json.Marshal(reqs[i])
				if string(reqs[i].Type) != want[0] {
					t.Errorf("message %d is %s, want %s: %s", i, reqs[i].Type, want[0], raw)
				}
				for _, w := range want[1:] {
					if !strings.Contains(string(raw), w) && !strings.Contains(unescape(raw), w) {
						t.Errorf("message %d does not contain %q: %s", i, w, raw)
					}
				}
			}
			for _, r := range b.rows(t, model, id) {
				if r.Status != "sent" {
					t.Errorf("row %+v not sent", r)
				}
			}
		})
	}
}

func unescape(raw []byte) string {
	var v any
	_ = json.Unmarshal(raw, &v)
	return fmt.Sprint(v)
}

// A partner without a number gets no request, and Odoo users see why.
func TestPartnerWithoutPhoneIsRecordedNotLost(t *testing.T) {
	t.Parallel()
	b := setup(t)
	order, err := odoosim.NewQuotation(context.Background(), b.db.Pool(t), odoosim.PartnerIbrahima, 1000, 180)
	if err != nil {
		t.Fatal(err)
	}
	b.flush(t)
	if n := len(b.sent(t)); n != 0 {
		t.Errorf("emulator got %d messages, want none", n)
	}
	rows := b.rows(t, "sale.order", order)
	if len(rows) != 1 || rows[0].Status != "failed" || !strings.Contains(rows[0].Error, "Ibrahima Sow has no mobile or phone number") {
		t.Fatalf("rows = %+v, want one failed row saying the partner has no number", rows)
	}
	var notes int
	b.db.QueryRow(t, []any{&notes}, `SELECT count(*) FROM mail_message WHERE model = 'sale.order' AND res_id = $1 AND body LIKE '%non envoyé%'`, order)
	if notes != 1 {
		t.Errorf("%d chatter notes about the failure, want 1", notes)
	}
}

func TestNothingSentWhen(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		prepare string
	}{
		{"PartnerOptedOut", `UPDATE res_partner SET x_whatsapp_opt_out = true WHERE id = 42`},
		{"AutoSendOff", `UPDATE whatsapp_config SET auto_send_order_creation = false`},
		{"NoActiveConfig", `UPDATE whatsapp_config SET is_active = false`},
		{"ConfigOfAnotherCompany", `UPDATE whatsapp_config SET company_id = 2`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.db.Exec(t, c.prepare)
			if err := b.accounts.Load(context.Background(), b.db.Pool(t)); err != nil {
				t.Fatal(err)
			}
			if _, err := odoosim.NewQuotation(context.Background(), b.db.Pool(t), odoosim.PartnerAwa, 1000, 180); err != nil {
				t.Fatal(err)
			}
			b.flush(t)
			if n := len(b.sent(t)); n != 0 {
				t.Errorf("emulator got %d messages, want none", n)
			}
			var events int
			b.db.QueryRow(t, []any{&events}, `SELECT count(*) FROM whatsapp_sidecar.event`)
			if events != 0 {
				t.Errorf("%d events left in the queue, want them all processed", events)
			}
		})
	}
}

// The same change captured twice (a replayed event) makes one message.
func TestSameEventTwiceSendsOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	order, err := odoosim.NewQuotation(context.Background(), b.db.Pool(t), odoosim.PartnerAwa, 1000, 180)
	if err != nil {
		t.Fatal(err)
	}
	b.db.Exec(t, `INSERT INTO whatsapp_sidecar.event (model, res_id, kind, new_value) VALUES ('sale.order', $1, 'order_created', 'draft')`, order)
	b.flush(t)
	b.db.Exec(t, `INSERT INTO whatsapp_sidecar.event (model, res_id, kind, new_value) VALUES ('sale.order', $1, 'order_created', 'draft')`, order)
	b.flush(t)
	if n := len(b.sent(t)); n != 1 {
		t.Errorf("emulator got %d messages, want 1", n)
	}
}

// A row inserted by anyone (SQL, an Odoo server action) is sent: the table is the API.
func TestQueuedRowIsTheAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.db.Exec(t, `INSERT INTO whatsapp_message (phone, content) VALUES ('+221 78 901 23 45', 'Votre colis est prêt')`)
	b.db.Exec(t, `INSERT INTO whatsapp_message (contact_id, res_model, res_id, kind) VALUES (42, 'sale.order', 26, 'order_summary')`)
	b.flush(t)
	reqs := b.sent(t)
	if len(reqs) != 2 {
		t.Fatalf("emulator got %d messages, want 2", len(reqs))
	}
	// Two customers, two lanes sent concurrently: find each by its recipient.
	byTo := map[string]whatsapp.SendRequest{}
	for _, r := range reqs {
		byTo[r.To] = r
	}
	if text := byTo["+221789012345"]; text.Text == nil || text.Text.Body != "Votre colis est prêt" {
		t.Errorf("message to +221789012345 is %+v, want the text", text)
	}
	if summary := byTo["+221771234567"]; summary.Interactive == nil || !strings.Contains(summary.Interactive.Body.Text, "S00026") || len(summary.Interactive.Action.Buttons) != 3 {
		t.Errorf("order summary intent to Awa rendered as %+v, want S00026 with three buttons", summary)
	}
	// What was sent is on the row, buttons included: Odoo's form and Discuss show it.
	var content, buttons string
	b.db.QueryRow(t, []any{&content, &buttons}, `SELECT COALESCE(content, ''), COALESCE(buttons, '') FROM whatsapp_message WHERE kind = 'order_summary'`)
	if !strings.Contains(content, "S00026") || strings.Count(buttons, `"title"`) != 3 {
		t.Errorf("the intent row holds content %q and buttons %q, want the summary and its three buttons", content, buttons)
	}
}

// A Meta outage (5xx) delays messages; none is lost, none is sent twice.
func TestOutageThenRecoveryDeliversAll(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.emu.Fail5xx(6, 500)
	for _, p := range []int{odoosim.PartnerAwa, odoosim.PartnerMoussa, odoosim.PartnerFall, odoosim.PartnerFatou} {
		if _, err := odoosim.NewQuotation(ctx, b.db.Pool(t), p, 1000, 180); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 5; i++ {
		b.flush(t)
	}
	var sent, other int
	b.db.QueryRow(t, []any{&sent, &other}, `SELECT count(*) FILTER (WHERE status = 'sent'), count(*) FILTER (WHERE status <> 'sent') FROM whatsapp_message`)
	accepted := 0
	for _, r := range b.emu.Requests() {
		if strings.HasSuffix(r.Path, "/messages") && r.Status == 200 {
			accepted++
		}
	}
	if sent != 4 || other != 0 || accepted != 4 {
		t.Errorf("after the outage: %d rows sent, %d not, %d accepted by Meta; want 4, 0, 4", sent, other, accepted)
	}
}

// Two sidecars on the same database never send the same message.
func TestTwoReplicasSendEachMessageOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.db.Exec(t, `
		INSERT INTO whatsapp_message (phone, content)
		SELECT '+22177' || lpad(g::text, 7, '0'), 'message ' || g FROM generate_series(1, 300) g`)
	other := &send.Sender{Pool: b.db.Pool(t), Accounts: b.accounts, PairInterval: time.Millisecond, PairBurst: 100}
	var wg sync.WaitGroup
	for _, s := range []*send.Sender{b.sender, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Drain(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	seen := map[string]int{}
	for _, r := range b.sent(t) {
		seen[r.Text.Body]++
	}
	for body, n := range seen {
		if n != 1 {
			t.Errorf("%q sent %d times", body, n)
		}
	}
	if len(seen) != 300 {
		var errs []string
		rows, _ := b.pool.Query(ctx, `SELECT DISTINCT status || ': ' || COALESCE(error_message, '') FROM whatsapp_message`)
		for rows.Next() {
			var e string
			rows.Scan(&e)
			errs = append(errs, e)
		}
		rows.Close()
		t.Errorf("%d distinct messages sent, want 300; rows: %v", len(seen), errs)
	}
}

// Outside the 24-hour window, a notification mapped to an approved template goes as
// that template, its placeholders filled from the order; one that is not mapped
// fails with Meta's 131047 and says what to do.
func TestOutsideTheWindow(t *testing.T) {
	t.Parallel()
	for _, mapped := range []bool{true, false} {
		t.Run(fmt.Sprintf("TemplateMapped=%v", mapped), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := context.Background()
			b.emu.UpdateKnobs(func(k *emulator.Knobs) { k.RequireWindow, k.SyncFailures = true, true })
			b.db.Exec(t, `INSERT INTO whatsapp_template (name, wa_name, language_code, status, components, parameter_format, notification_kind)
				VALUES ('Commande créée', 'commande_creee', 'fr', 'APPROVED', $1, 'POSITIONAL', $2)`,
				`[{"type":"BODY","text":"Bonjour {{1}}, votre commande {{2}} de {{3}} est enregistrée."}]`,
				map[bool]any{true: "order_created", false: nil}[mapped])
			b.emu.AddTemplate(whatsapp.TemplateInfo{Name: "commande_creee", Language: "fr", Status: "APPROVED", Category: "UTILITY",
				Components: []whatsapp.TemplateComponentInfo{{Type: "BODY", Text: "Bonjour {{1}}, votre commande {{2}} de {{3}} est enregistrée."}}})
			if err := b.accounts.Load(ctx, b.pool); err != nil {
				t.Fatal(err)
			}
			order, err := odoosim.NewQuotation(ctx, b.pool, odoosim.PartnerAwa, 1000, 180)
			if err != nil {
				t.Fatal(err)
			}
			b.flush(t)
			rows := b.rows(t, "sale.order", order)
			if !mapped {
				if len(rows) != 1 || rows[0].Status != "failed" || !strings.Contains(rows[0].Error, "131047") || !strings.Contains(rows[0].Error, "template") {
					t.Fatalf("rows %+v, want one failed row with 131047 and the advice to map a template", rows)
				}
				return
			}
			reqs := b.sent(t)
			if len(reqs) != 1 || reqs[0].Template == nil {
				t.Fatalf("sent %+v, want one template message", reqs)
			}
			var params []string
			for _, c := range reqs[0].Template.Components {
				for _, p := range c.Parameters {
					params = append(params, p.Text)
				}
			}
			want := []string{"Awa Ndiaye", fmt.Sprintf("S%05d", order), "1 180 F CFA"}
			if reqs[0].Template.Name != "commande_creee" || fmt.Sprint(params) != fmt.Sprint(want) {
				t.Errorf("template %s with %q, want commande_creee with %q", reqs[0].Template.Name, params, want)
			}
			if len(rows) != 1 || rows[0].Status != "sent" || rows[0].Type != "template" {
				t.Errorf("rows %+v, want one sent template row", rows)
			}
		})
	}
}

// A row queued for an opted-out partner (an Odoo action, SQL) is not sent; a reply
// to what they wrote (their STOP's confirmation) is.
func TestOptedOutPartnerGetsOnlyReplies(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.db.Exec(t, `UPDATE res_partner SET x_whatsapp_opt_out = true WHERE id = 42`)
	b.db.Exec(t, `INSERT INTO whatsapp_message (contact_id, res_model, res_id, kind) VALUES (42, 'sale.order', 26, 'order_summary')`)
	b.db.Exec(t, `INSERT INTO whatsapp_message (contact_id, content, kind) VALUES (42, 'Vous ne recevrez plus de messages', 'reply_opt_out')`)
	b.flush(t)
	reqs := b.sent(t)
	if len(reqs) != 1 || reqs[0].Text == nil || !strings.Contains(reqs[0].Text.Body, "plus de messages") {
		t.Fatalf("sent %+v, want only the reply", reqs)
	}
	rows := b.rows(t, "sale.order", 26)
	if len(rows) != 1 || rows[0].Status != "failed" || !strings.Contains(rows[0].Error, "opted out") {
		t.Errorf("rows %+v, want the order summary failed because the partner opted out", rows)
	}
}

// A document row pointing at an Odoo attachment (what `send --document` queues) is
// uploaded and sent by media id under the attachment's name, when the attachment
// was made for that message or belongs to the record the message is about. Any
// other attachment fails the row, saying whose it is, and nothing reaches Meta.
func TestDocumentFromAnAttachment(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name           string
		owner          string // the attachment's res_model and res_id: "message" for the row itself, "other message" for another
		ownerID        int
		model          string // the row's
		resID          int
		wantErr        string // %[1]d is the row's id, %[2]d the other message's
		wantSentAsName string
	}{
		{name: "made for the message", owner: "message", wantSentAsName: "devis.pdf"},
		{name: "the message's record's", owner: "sale.order", ownerID: 26, model: "sale.order", resID: 26, wantSentAsName: "devis.pdf"},
		{name: "another record's", owner: "account.move", ownerID: odoosim.InvoiceNotPaid, model: "sale.order", resID: 26,
			wantErr: fmt.Sprintf("is attached to account.move %d, not to sale.order 26 or whatsapp.message %%[1]d", odoosim.InvoiceNotPaid)},
		{name: "another message's", owner: "other message", wantErr: "is attached to whatsapp.message %[2]d, not to whatsapp.message %[1]d"},
		{name: "attached to nothing", wantErr: "is attached to no record, not to whatsapp.message %[1]d"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			var rowID int
			b.db.QueryRow(t, []any{&rowID}, `SELECT nextval(pg_get_serial_sequence('whatsapp_message', 'id'))::int`)
			var owner, ownerID, model, resID any // nil is NULL
			switch c.owner {
			case "": // attached to nothing
			case "message":
				owner, ownerID = "whatsapp.message", rowID
			case "other message":
				owner, ownerID = "whatsapp.message", rowID+1
			default:
				owner, ownerID = c.owner, c.ownerID
			}
			if c.model != "" {
				model, resID = c.model, c.resID
			}
			var id int
			b.db.QueryRow(t, []any{&id}, `INSERT INTO ir_attachment (name, type, mimetype, db_datas, res_model, res_id)
				VALUES ('devis.pdf', 'binary', 'application/pdf', '%PDF-1.4 devis', $1, $2) RETURNING id`, owner, ownerID)
			b.db.Exec(t, `INSERT INTO whatsapp_message (id, phone, message_type, attachment_id, caption, params, res_model, res_id)
				VALUES ($1, '+221771234567', 'document', $2, 'Votre devis', '{"filename":"devis.pdf"}', $3, $4)`,
				rowID, id, model, resID)
			b.flush(t)
			var status, errMsg string
			b.db.QueryRow(t, []any{&status, &errMsg}, `SELECT status, COALESCE(error_message, '') FROM whatsapp_message WHERE id = $1`, rowID)
			if c.wantErr != "" {
				want := fmt.Sprintf(c.wantErr, rowID, rowID+1)
				if status != "failed" || !strings.Contains(errMsg, want) {
					t.Errorf("row %s %q, want failed with %q", status, errMsg, want)
				}
				if reqs := b.emu.Requests(); len(reqs) != 0 {
					t.Errorf("%d requests reached Meta, the first %s", len(reqs), reqs[0].Path)
				}
				return
			}
			reqs := b.sent(t)
			if len(reqs) != 1 || reqs[0].Document == nil || reqs[0].Document.ID == "" || reqs[0].Document.Filename != c.wantSentAsName {
				t.Fatalf("sent %+v (row %s %q), want the attachment as a document by media id, named %s", reqs, status, errMsg, c.wantSentAsName)
			}
		})
	}
}
