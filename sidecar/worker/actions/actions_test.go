package actions_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/accounts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/odoosim"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/odooweb"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/phone"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/actions"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type bundle struct {
	db     *pgtest.DB
	pool   *pgxpool.Pool
	reg    *accounts.Registry
	runner *actions.Runner
	seq    atomic.Int64
}

// setup is a sidecar-installed database (with the default button actions of
// migration 020) and one active config for company 1 with payment texts.
func setup(t *testing.T) *bundle {
	t.Helper()
	db := pgtest.NewDB(t, pgtest.Sidecar)
	db.Exec(t, `INSERT INTO whatsapp_config (name, phone_number_id, company_id, default_country_code, is_active,
		payment_wave_text, payment_orange_text)
		VALUES ('Boutique', '106540352242922', 1, 'SN', true,
		'https://pay.wave.com/m/M_sn_test/c/sn/?amount={amount}&ref={reference}',
		'Orange Money : composez #144# et payez {amount_residual} pour {invoice_name}.')`)
	b := &bundle{db: db, pool: db.Pool(t)}
	b.reload(t)
	b.runner = &actions.Runner{Pool: b.pool, CallbackAttempts: 3}
	return b
}

func (b *bundle) reload(t *testing.T) {
	t.Helper()
	b.reg = accounts.New(accounts.Options{})
	if err := b.reg.Load(context.Background(), b.pool); err != nil {
		t.Fatal(err)
	}
}

// customer is who clicks: the partner of that number (if any), in a conversation.
func (b *bundle) customer(t *testing.T, waID string) actions.Customer {
	t.Helper()
	ctx := context.Background()
	num, err := phone.Normalize("+" + waID)
	if err != nil {
		t.Fatal(err)
	}
	acc := b.reg.All()[0]
	c := actions.Customer{Account: acc, Phone: num, ProfileName: "Client WhatsApp"}
	partners, err := actions.FindPartners(ctx, b.pool, num, "SN")
	if err != nil {
		t.Fatal(err)
	}
	if len(partners) > 0 {
		c.Partner = &partners[0]
	}
	b.db.QueryRow(t, []any{&c.ConversationID}, `INSERT INTO whatsapp_conversation (name, wa_id, phone, config_id)
		VALUES ($1, $1, $2, $3) ON CONFLICT ((COALESCE(config_id, 0)), wa_id) WHERE wa_id IS NOT NULL
		DO UPDATE SET name = EXCLUDED.name RETURNING id`, waID, num.E164, acc.ConfigID)
	return c
}

// click plans a click and applies it as the inbound processor does.
func (b *bundle) click(t *testing.T, c actions.Customer, buttonID, title, contextID string) *actions.Plan {
	t.Helper()
	ctx := context.Background()
	plan, err := b.runner.Click(ctx, actions.Click{Customer: c, ButtonID: buttonID, Title: title,
		WaMessageID: "wamid.click-" + strconv.FormatInt(b.seq.Add(1), 10), ContextID: contextID, At: time.Now(), Attempt: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error { return plan.Apply(ctx, tx, time.Now()) }); err != nil {
		t.Fatal(err)
	}
	return plan
}

type reply struct {
	Kind, Type, Content, Caption, Phone, ResModel string
	ResID                                         int
	Buttons                                       string
}

func (b *bundle) replies(t *testing.T) []reply {
	t.Helper()
	rows, err := b.pool.Query(context.Background(), `SELECT COALESCE(kind, ''), message_type, COALESCE(content, ''),
		COALESCE(caption, ''), COALESCE(phone, ''), COALESCE(res_model, ''), COALESCE(res_id, 0), COALESCE(buttons, '')
		FROM whatsapp_message WHERE direction = 'out' AND status = 'queued' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []reply
	for rows.Next() {
		var r reply
		if err := rows.Scan(&r.Kind, &r.Type, &r.Content, &r.Caption, &r.Phone, &r.ResModel, &r.ResID, &r.Buttons); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func (b *bundle) notes(t *testing.T, model string, id int) string {
	t.Helper()
	var joined string
	b.db.QueryRow(t, []any{&joined}, `SELECT COALESCE(string_agg(body, ' | ' ORDER BY id), '') FROM mail_message
		WHERE model = $1 AND res_id = $2 AND create_date > now() AT TIME ZONE 'utc' - interval '1 hour'`, model, id)
	return joined
}

func (b *bundle) order(t *testing.T, partner int) (id int, name string) {
	t.Helper()
	id, err := odoosim.NewQuotation(context.Background(), b.pool, partner, 100000, 18000)
	if err != nil {
		t.Fatal(err)
	}
	b.db.QueryRow(t, []any{&name}, `SELECT name FROM sale_order WHERE id = $1`, id)
	return id, name
}

func itoa(n int) string { return strconv.Itoa(n) }

const awa, moussa = "221771234567", "221771234568"

func TestMatches(t *testing.T) {
	t.Parallel()
	cases := []struct {
		buttonID, mode, clicked string
		want                    bool
	}{
		{"btn_validate_order_", "prefix", "btn_validate_order_26", true},
		{"btn_validate_order_", "", "btn_validate_order_26", true},
		{"btn_validate_order", "", "btn_validate_order_26", true}, // the seed's rule: button_id + "_"
		{"btn_validate_order", "", "btn_validate_orderX", false},
		{"btn_validate_order", "prefix", "btn_validate_orderX", true},
		{"btn_validate_order_", "exact", "btn_validate_order_26", false},
		{"btn_yes", "exact", "btn_yes", true},
		{"btn_yes", "", "btn_yes", true},
		{"btn_yes", "", "btn_yes_please", true},
		{"btn_yes", "", "btn_ye", false},
	}
	for _, c := range cases {
		if got := (actions.Action{ButtonID: c.buttonID, MatchMode: c.mode}).Matches(c.clicked); got != c.want {
			t.Errorf("%q (%s) matches %q = %v, want %v", c.buttonID, c.mode, c.clicked, got, c.want)
		}
	}
}

// Valider and Annuler change only a quotation (draft or sent), set the customer's
// flag with the state, and answer clearly whatever the order's state: double
// clicks and late clicks change nothing.
func TestValidateAndCancel(t *testing.T) {
	t.Parallel()
	cases := []struct {
		state, button, wantState, wantReply string
		validated, rejected                 bool
	}{
		{"draft", "btn_validate_order_", "sale", "reply_order_validated", true, false},
		{"sent", "btn_validate_order_", "sale", "reply_order_validated", true, false},
		{"sale", "btn_validate_order_", "sale", "reply_order_already_confirmed", false, false},
		{"done", "btn_validate_order_", "done", "reply_order_already_confirmed", false, false},
		{"cancel", "btn_validate_order_", "cancel", "reply_order_already_cancelled", false, false},
		{"draft", "btn_cancel_order_", "cancel", "reply_order_cancelled", false, true},
		{"sent", "btn_cancel_order_", "cancel", "reply_order_cancelled", false, true},
		{"sale", "btn_cancel_order_", "sale", "reply_order_not_cancellable", false, false},
		{"cancel", "btn_cancel_order_", "cancel", "reply_order_already_cancelled", false, false},
	}
	for _, c := range cases {
		t.Run(c.state+"/"+strings.Trim(c.button, "_"), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			order, name := b.order(t, odoosim.PartnerAwa)
			b.db.Exec(t, `UPDATE sale_order SET state = $2 WHERE id = $1`, order, c.state)
			b.click(t, b.customer(t, awa), c.button+itoa(order), "Valider", "")
			var state string
			var validated, rejected bool
			b.db.QueryRow(t, []any{&state, &validated, &rejected}, `SELECT state, COALESCE(x_whatsapp_validated, false),
				COALESCE(x_whatsapp_rejected, false) FROM sale_order WHERE id = $1`, order)
			if state != c.wantState || validated != c.validated || rejected != c.rejected {
				t.Errorf("order %s validated %v rejected %v, want %s %v %v", state, validated, rejected, c.wantState, c.validated, c.rejected)
			}
			r := b.replies(t)
			if len(r) != 1 || r[0].Kind != c.wantReply || !strings.Contains(r[0].Content, name) || r[0].Phone != "+"+awa ||
				r[0].ResModel != "sale.order" || r[0].ResID != order {
				t.Fatalf("replies %+v, want one %s", r, c.wantReply)
			}
			notes := b.notes(t, "sale.order", order)
			if changed := c.validated || c.rejected; changed != strings.Contains(notes, "règles métier") {
				t.Errorf("chatter %q", notes)
			}
		})
	}
}

// A second click on Valider (another wamid: the customer tapped twice) confirms
// nothing more and says the order is already confirmed.
func TestDoubleClick(t *testing.T) {
	t.Parallel()
	b := setup(t)
	order, _ := b.order(t, odoosim.PartnerAwa)
	c := b.customer(t, awa)
	b.click(t, c, "btn_validate_order_"+itoa(order), "Valider", "")
	b.click(t, c, "btn_validate_order_"+itoa(order), "Valider", "")
	b.click(t, c, "btn_cancel_order_"+itoa(order), "Annuler", "")
	r := b.replies(t)
	if len(r) != 3 || r[0].Kind != "reply_order_validated" || r[1].Kind != "reply_order_already_confirmed" ||
		r[2].Kind != "reply_order_not_cancellable" {
		t.Errorf("replies %+v", r)
	}
	if n := strings.Count(b.notes(t, "sale.order", order), "confirmée par le client"); n != 1 {
		t.Errorf("%d confirmation notes", n)
	}
}

// A click carrying another customer's order id (or none that exists) changes
// nothing and gets "not found".
func TestClickOnSomeoneElsesOrder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	order, _ := b.order(t, odoosim.PartnerAwa)
	b.click(t, b.customer(t, moussa), "btn_validate_order_"+itoa(order), "Valider", "")
	b.click(t, b.customer(t, moussa), "btn_cancel_order_999999", "Annuler", "")
	var state string
	b.db.QueryRow(t, []any{&state}, `SELECT state FROM sale_order WHERE id = $1`, order)
	r := b.replies(t)
	if state != "draft" || len(r) != 2 || r[0].Kind != "reply_record_not_found" || r[1].Kind != "reply_record_not_found" ||
		r[0].Phone != "+"+moussa {
		t.Errorf("state %s, replies %+v", state, r)
	}
}

// fakeOdoo answers Odoo's JSON-RPC as Odoo 16 does: it logs in, and for
// sale.order's action_confirm / action_cancel checks the customer's flag is
// already set, then changes the state (or refuses with a UserError).
type fakeOdoo struct {
	t      *testing.T
	pool   *pgxpool.Pool
	refuse string
	calls  []string
	srv    *httptest.Server
}

func newFakeOdoo(t *testing.T, pool *pgxpool.Pool) *fakeOdoo {
	f := &fakeOdoo{t: t, pool: pool}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeOdoo) serve(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Params struct {
			Args []json.RawMessage `json:"args"`
		} `json:"params"`
	}
	body, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(body, &req)
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/web/session/authenticate" {
		_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{"uid":2}}`)
		return
	}
	var model, method string
	var ids [][]int
	var kwargs map[string]any
	_ = json.Unmarshal(req.Params.Args[3], &model)
	_ = json.Unmarshal(req.Params.Args[4], &method)
	_ = json.Unmarshal(req.Params.Args[5], &ids)
	_ = json.Unmarshal(req.Params.Args[6], &kwargs)
	f.calls = append(f.calls, model+"."+method)
	if f.refuse != "" {
		_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":1,"error":{"code":200,"message":"Odoo Server Error","data":{"name":"odoo.exceptions.UserError","message":"`+f.refuse+`"}}}`)
		return
	}
	ctx := context.Background()
	id := ids[0][0]
	flag, state := "x_whatsapp_validated", "sale"
	if method == "action_cancel" {
		flag, state = "x_whatsapp_rejected", "cancel"
		if c, _ := kwargs["context"].(map[string]any); c["disable_cancel_warning"] != true {
			f.t.Errorf("action_cancel without disable_cancel_warning: Odoo would answer with a wizard")
		}
	}
	var flagged bool
	if err := f.pool.QueryRow(ctx, `SELECT COALESCE(`+flag+`, false) FROM sale_order WHERE id = $1`, id).Scan(&flagged); err != nil || !flagged {
		f.t.Errorf("%s called before %s was set (%v)", method, flag, err)
	}
	if _, err := f.pool.Exec(ctx, `UPDATE sale_order SET state = $2, write_uid = 2 WHERE id = $1`, id, state); err != nil {
		f.t.Error(err)
	}
	_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":true}`)
}

// With Odoo's external API configured, Valider and Annuler call action_confirm
// and action_cancel so Odoo's rules run; the flag is set before the call (the
// composer must see it) and put back when Odoo refuses, and the customer is told.
func TestValidateAndCancelThroughOdoo(t *testing.T) {
	t.Parallel()
	cases := []struct {
		button, refuse, wantState, wantReply, wantNote string
	}{
		{"btn_validate_order_", "", "sale", "reply_order_validated", "confirmée par le client"},
		{"btn_cancel_order_", "", "cancel", "reply_order_cancelled", "annulé par le client"},
		{"btn_validate_order_", "Il manque une adresse de livraison.", "draft", "reply_order_confirm_failed", "Il manque une adresse de livraison."},
		{"btn_cancel_order_", "Annulation impossible.", "draft", "reply_order_cancel_failed", "Annulation impossible."},
	}
	for _, c := range cases {
		t.Run(c.wantReply, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			odoo := newFakeOdoo(t, b.pool)
			odoo.refuse = c.refuse
			b.runner.Odoo = &odooweb.Client{URL: odoo.srv.URL, DB: "odoo", User: "admin", Password: "admin"}
			order, _ := b.order(t, odoosim.PartnerAwa)
			b.click(t, b.customer(t, awa), c.button+itoa(order), "Valider", "")
			var state string
			var validated, rejected bool
			b.db.QueryRow(t, []any{&state, &validated, &rejected}, `SELECT state, COALESCE(x_whatsapp_validated, false),
				COALESCE(x_whatsapp_rejected, false) FROM sale_order WHERE id = $1`, order)
			if state != c.wantState || (c.refuse != "" && (validated || rejected)) {
				t.Errorf("order %s validated %v rejected %v", state, validated, rejected)
			}
			if r := b.replies(t); len(r) != 1 || r[0].Kind != c.wantReply {
				t.Errorf("replies %+v", r)
			}
			notes := b.notes(t, "sale.order", order)
			if !strings.Contains(notes, c.wantNote) || strings.Contains(notes, "règles métier") {
				t.Errorf("chatter %q", notes)
			}
			if len(odoo.calls) != 1 {
				t.Errorf("Odoo calls %v", odoo.calls)
			}
		})
	}
}

// Voir détail lists the order's lines with quantities and amounts, and flags the
// order's details as sent.
func TestOrderDetails(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// S00026: 2 Cabinet with Doors, 4 Chair floor protection, 224 200 F CFA.
	b.click(t, b.customer(t, awa), "btn_view_order_details_"+itoa(odoosim.OrderDraft), "Voir détail", "")
	r := b.replies(t)
	if len(r) != 1 || r[0].Kind != "reply_order_details" {
		t.Fatalf("replies %+v", r)
	}
	for _, want := range []string{"S00026", "Cabinet with Doors", "Qté : 2", "Total : 224 200 F CFA"} {
		if !strings.Contains(r[0].Content, want) {
			t.Errorf("details %q lack %q", r[0].Content, want)
		}
	}
	var sent bool
	b.db.QueryRow(t, []any{&sent}, `SELECT COALESCE(x_whatsapp_details_sent, false) FROM sale_order WHERE id = $1`, odoosim.OrderDraft)
	if !sent {
		t.Error("x_whatsapp_details_sent not set")
	}
}

// Télécharger queues the invoice as a document intent the sender fills with the PDF.
func TestInvoicePDF(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.click(t, b.customer(t, awa), "btn_download_invoice_"+itoa(odoosim.InvoiceNotPaid), "Télécharger", "")
	r := b.replies(t)
	if len(r) != 1 || r[0].Kind != "invoice_pdf" || r[0].Type != "document" || r[0].ResModel != "account.move" ||
		r[0].ResID != odoosim.InvoiceNotPaid || r[0].Caption != "Votre facture INV/2026/00005" {
		t.Errorf("replies %+v", r)
	}
}

// Payment buttons answer with the account's link (amount due filled in) or text;
// a paid invoice, a disabled provider, or someone else's invoice get a clear answer.
func TestPayments(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, button, waID string
		invoice            int
		disableWave        bool
		kind, want         string
	}{
		{"wave link", "btn_pay_wave_", awa, odoosim.InvoiceNotPaid, false, "reply_payment_wave",
			"avec Wave : https://pay.wave.com/m/M_sn_test/c/sn/?amount=271400&ref=INV%2F2026%2F00005"},
		{"orange text", "btn_pay_orange_", awa, odoosim.InvoiceNotPaid, false, "reply_payment_orange",
			"Orange Money : composez #144# et payez 271 400 F CFA pour INV/2026/00005."},
		{"partly paid", "btn_pay_wave_", moussa, odoosim.InvoicePartPaid, false, "reply_payment_wave", "amount=269050"},
		{"paid", "btn_pay_wave_", "221771234569", odoosim.InvoicePaid, false, "reply_invoice_already_paid", "déjà entièrement payée"},
		{"provider disabled", "btn_pay_wave_", awa, odoosim.InvoiceNotPaid, true, "reply_payment_wave", "pas encore disponible"},
		{"someone else's", "btn_pay_wave_", moussa, odoosim.InvoiceNotPaid, false, "reply_record_not_found", "ne retrouvons pas"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			if c.disableWave {
				b.db.Exec(t, `UPDATE whatsapp_config SET payment_wave_enabled = false`)
				b.reload(t)
			}
			b.click(t, b.customer(t, c.waID), c.button+itoa(c.invoice), "Payer", "")
			r := b.replies(t)
			if len(r) != 1 || r[0].Kind != c.kind || !strings.Contains(r[0].Content, c.want) {
				t.Errorf("replies %+v, want %s containing %q", r, c.kind, c.want)
			}
		})
	}
}

// The seed's multi-step example: a scenario's button answers and sends the next
// scenario (choose Wave or Orange Money); the next click runs both its scenario
// response and the matching button action, on the customer's unpaid invoice.
func TestScenarioFlow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.db.Exec(t, `INSERT INTO whatsapp_interactive_scenario (id, name, initial_message, button_1_id, button_1_title,
		button_1_response, button_2_id, button_2_title, button_2_response)
		VALUES (900, 'Paiement', 'Comment souhaitez-vous payer ?', 'sc_wave', 'Wave', 'Voici le lien Wave :',
		'sc_orange', 'Orange Money', 'Voici les instructions Orange Money :')`)
	b.db.Exec(t, `INSERT INTO whatsapp_interactive_scenario (name, initial_message, button_1_id, button_1_title,
		button_1_response, button_1_send_interactive, button_1_next_scenario_id, button_2_id, button_2_title, button_2_response)
		VALUES ('Validation', 'Votre commande est prête. Valider ?', 'sc_validate', 'Valider', 'Merci {partner_name} !', true, 900,
		'sc_later', 'Plus tard', 'Très bien, à bientôt.')`)
	b.db.Exec(t, `INSERT INTO whatsapp_button_action (name, button_id, action_type, match_mode) VALUES ('Wave', 'sc_wave', 'payment_wave', 'exact')`)

	id, err := actions.StartScenario(ctx, b.pool, b.reg, "validation", "+221 77 123 45 67")
	if err != nil {
		t.Fatal(err)
	}
	var kind, phone, buttons string
	var contact int
	b.db.QueryRow(t, []any{&kind, &phone, &contact, &buttons}, `SELECT kind, phone, contact_id, buttons FROM whatsapp_message WHERE id = $1`, id)
	if kind != "scenario" || phone != "+221771234567" || contact != odoosim.PartnerAwa ||
		buttons != `[{"id":"sc_validate","title":"Valider"},{"id":"sc_later","title":"Plus tard"}]` {
		t.Errorf("started scenario row: %s %s %d %s", kind, phone, contact, buttons)
	}
	if _, err := actions.StartScenario(ctx, b.pool, b.reg, "nope", "+221771234567"); err == nil {
		t.Error("an unknown scenario started")
	}

	c := b.customer(t, awa)
	b.click(t, c, "sc_validate", "Valider", "")
	b.click(t, c, "sc_wave", "Wave", "")
	r := b.replies(t)[1:] // after the started scenario
	if len(r) != 4 {
		t.Fatalf("replies %+v", r)
	}
	if r[0].Kind != "reply_scenario" || r[0].Content != "Merci Awa Ndiaye !" ||
		r[1].Type != "interactive" || r[1].Content != "Comment souhaitez-vous payer ?" || !strings.Contains(r[1].Buttons, "sc_orange") ||
		r[2].Content != "Voici le lien Wave :" ||
		r[3].Kind != "reply_payment_wave" || !strings.Contains(r[3].Content, "INV/2026/00005") {
		t.Errorf("replies %+v", r)
	}
}

// send_message answers with its text, placeholders filled from the record the
// clicked message was about.
func TestSendMessage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.db.Exec(t, `UPDATE whatsapp_button_action SET active = true, message_to_send = 'Merci {partner_name} pour {order_name} ({amount}).'
		WHERE button_id = 'btn_yes'`)
	b.db.Exec(t, `INSERT INTO whatsapp_message (direction, wa_message_id, res_model, res_id, phone, status)
		VALUES ('out', 'wamid.about-26', 'sale.order', 26, '+221771234567', 'read')`)
	plan := b.click(t, b.customer(t, awa), "btn_yes", "Oui", "wamid.about-26")
	r := b.replies(t)
	if len(r) != 1 || r[0].Kind != "reply_message" || r[0].Content != "Merci Awa Ndiaye pour S00026 (224 200 F CFA)." {
		t.Errorf("replies %+v", r)
	}
	if rec := plan.Record(); rec.Model != "sale.order" || rec.ID != 26 {
		t.Errorf("plan is about %+v", rec)
	}
	// An inactive action does not run.
	b.click(t, b.customer(t, awa), "btn_no", "Non", "")
	if n := len(b.replies(t)); n != 1 {
		t.Errorf("an inactive action answered")
	}
}

// custom_python is never run: it is reported on the chatter and the log.
func TestCustomPythonIsReported(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.db.Exec(t, `INSERT INTO whatsapp_button_action (name, button_id, action_type, python_code)
		VALUES ('Statut', 'btn_status', 'custom_python', 'env["res.partner"].search([]).unlink()')`)
	plan := b.click(t, b.customer(t, awa), "btn_status", "Statut", "")
	if !plan.Matched || len(b.replies(t)) != 0 {
		t.Errorf("matched %v, replies %+v", plan.Matched, b.replies(t))
	}
	if notes := b.notes(t, "res.partner", odoosim.PartnerAwa); !strings.Contains(notes, "Python personnalisé") {
		t.Errorf("partner chatter %q", notes)
	}
	var partners int
	b.db.QueryRow(t, []any{&partners}, `SELECT count(*) FROM res_partner`)
	if partners < 40 {
		t.Error("the Python ran")
	}
}

// update_contact writes the configured field of the customer's partner; a field
// res_partner lacks, or a value PostgreSQL refuses, changes nothing else.
func TestUpdateContact(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.db.Exec(t, `ALTER TABLE res_partner ADD COLUMN x_score integer`)
	b.db.Exec(t, `INSERT INTO whatsapp_button_action (name, button_id, action_type, match_mode, contact_field_to_update, contact_field_value, message_to_send) VALUES
		('Intéressé', 'btn_interested', 'update_contact', 'exact', 'comment', 'Intéressé par WhatsApp', 'Noté !'),
		('Score', 'btn_score', 'update_status', 'exact', 'x_score', 'pas un nombre', NULL),
		('Inconnu', 'btn_unknown', 'update_contact', 'exact', 'x_no_such_field', '1', NULL)`)
	c := b.customer(t, awa)
	for _, btn := range []string{"btn_interested", "btn_score", "btn_unknown"} {
		b.click(t, c, btn, btn, "")
	}
	var comment string
	var score *int
	b.db.QueryRow(t, []any{&comment, &score}, `SELECT COALESCE(comment, ''), x_score FROM res_partner WHERE id = $1`, odoosim.PartnerAwa)
	if comment != "Intéressé par WhatsApp" || score != nil {
		t.Errorf("comment %q, x_score %v", comment, score)
	}
	if r := b.replies(t); len(r) != 1 || r[0].Content != "Noté !" {
		t.Errorf("replies %+v", r)
	}
	notes := b.notes(t, "res.partner", odoosim.PartnerAwa)
	for _, want := range []string{"n&#39;a pas abouti", "x_score", "x_no_such_field"} {
		if !strings.Contains(strings.ReplaceAll(notes, "'", "&#39;"), want) {
			t.Errorf("partner chatter %q lacks %q", notes, want)
		}
	}
}

// A button may write only the allow-listed res_partner columns (and custom x_
// fields other than the sidecar's own): anything else is refused with the reason
// on the partner's chatter, and the partner row is left exactly as it was.
func TestUpdateContactAllowList(t *testing.T) {
	t.Parallel()
	cases := []struct {
		field, value string
		written      bool
	}{
		{"comment", "Client fidèle", true},
		{"function", "Gérante", true},
		{"ref", "CLI-042", true},
		{"website", "https://boutique.example", true},
		{"email", "awa@example.com", true},
		{"lang", "en_US", true},
		{"x_segment", "or", true},
		{"lang", "fr_FR", false}, // installed, not active
		{"lang", "Français", false},
		{"mobile", "+221770000000", false},
		{"phone", "+221770000000", false},
		{"name", "Quelqu'un d'autre", false},
		{"id", "1", false},
		{"active", "false", false},
		{"company_id", "2", false},
		{"parent_id", "1", false},
		{"user_id", "1", false},
		{"color", "3", false},
		{"x_whatsapp_opt_out", "true", false},
		{"X_WHATSAPP_OPT_OUT", "true", false},
		{"x_whatsapp_opt_out_date", "2026-01-01", false},
	}
	for _, c := range cases {
		t.Run(c.field+"="+c.value, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.db.Exec(t, `ALTER TABLE res_partner ADD COLUMN x_segment varchar`)
			b.db.Exec(t, `INSERT INTO whatsapp_button_action (name, button_id, action_type, match_mode,
				contact_field_to_update, contact_field_value) VALUES ('Fiche', 'btn_set', 'update_contact', 'exact', $1, $2)`,
				c.field, c.value)
			row := func() (all string) {
				b.db.QueryRow(t, []any{&all}, `SELECT to_jsonb(p)::text FROM res_partner p WHERE id = $1`, odoosim.PartnerAwa)
				return all
			}
			if c.written { // so that the value found after the click is the click's
				b.db.Exec(t, `UPDATE res_partner SET `+pgx.Identifier{c.field}.Sanitize()+` = NULL WHERE id = $1`, odoosim.PartnerAwa)
			}
			before := row()
			b.click(t, b.customer(t, awa), "btn_set", "Fiche", "")
			notes := b.notes(t, "res.partner", odoosim.PartnerAwa)
			if c.written {
				var got string
				b.db.QueryRow(t, []any{&got}, `SELECT COALESCE(to_jsonb(p)->>$2, '') FROM res_partner p WHERE id = $1`,
					odoosim.PartnerAwa, c.field)
				if got != c.value || notes != "" {
					t.Errorf("res_partner.%s = %q, chatter %q; want %q written", c.field, got, notes, c.value)
				}
				return
			}
			if after := row(); after != before {
				t.Errorf("refused update_contact changed the partner:\n%s\n%s", before, after)
			}
			if !strings.Contains(notes, c.field) || !strings.Contains(notes, "pas abouti") {
				t.Errorf("partner chatter %q does not say why %s was refused", notes, c.field)
			}
		})
	}
}

// verifyCallback is what a receiver does with the documented scheme: the
// signature is HMAC-SHA256(secret, timestamp + "." + body), and the timestamp must
// be within five minutes of its clock.
func verifyCallback(secret string, h http.Header, body []byte, now time.Time) error {
	ts := h.Get(actions.CallbackTimestampHeader)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("timestamp %q: %w", ts, err)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("timestamp %s is %s from now", ts, d)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(h.Get(actions.CallbackSignatureHeader))) {
		return errors.New("bad signature")
	}
	return nil
}

// http_callback posts the signed click event, retried on 5xx; the receiver may
// answer a text for the customer. A 4xx is not retried and is reported.
func TestHTTPCallback(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.runner.AllowPrivateCallbacks = true // the receiver is on loopback
	clock := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	b.runner.Now = func() time.Time { return clock }
	var calls atomic.Int64
	var got actions.CallbackEvent
	var first struct {
		header http.Header
		body   []byte
	}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := verifyCallback("callback-secret", r.Header, body, clock); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if calls.Add(1) < 3 {
			first.header, first.body = r.Header.Clone(), body
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		_ = json.Unmarshal(body, &got)
		_, _ = io.WriteString(w, `{"reply":"Votre demande est enregistrée."}`)
	}))
	defer receiver.Close()
	b.db.Exec(t, `INSERT INTO whatsapp_button_action (name, button_id, action_type, callback_url, callback_secret) VALUES
		('CRM', 'btn_crm', 'http_callback', $1, 'callback-secret'), ('Mauvais secret', 'btn_bad', 'callback', $1, 'wrong')`, receiver.URL)
	b.db.Exec(t, `INSERT INTO whatsapp_message (direction, wa_message_id, res_model, res_id, phone, status)
		VALUES ('out', 'wamid.about-26', 'sale.order', 26, '+221771234567', 'read')`)
	c := b.customer(t, awa)
	b.click(t, c, "btn_crm", "Me rappeler", "wamid.about-26")
	if calls.Load() != 3 || got.Event != "button_click" || got.Button.ID != "btn_crm" || got.Customer.Phone != "+221771234567" ||
		got.Customer.PartnerID != odoosim.PartnerAwa || got.Record == nil || got.Record.ID != 26 || !strings.HasPrefix(got.ID, "wamid.click-") {
		t.Errorf("%d calls, event %+v", calls.Load(), got)
	}
	if r := b.replies(t); len(r) != 1 || r[0].Kind != "reply_callback" || r[0].Content != "Votre demande est enregistrée." {
		t.Errorf("replies %+v", r)
	}

	// The timestamp is the sender's clock, and it is signed: a replay later is
	// refused on its age, and a replay with a fresh timestamp on its signature.
	if ts := first.header.Get(actions.CallbackTimestampHeader); ts != strconv.FormatInt(clock.Unix(), 10) {
		t.Errorf("%s = %q, want %d", actions.CallbackTimestampHeader, ts, clock.Unix())
	}
	if err := verifyCallback("callback-secret", first.header, first.body, clock.Add(time.Hour)); err == nil {
		t.Error("a request replayed an hour later verifies")
	}
	refreshed := first.header.Clone()
	refreshed.Set(actions.CallbackTimestampHeader, strconv.FormatInt(clock.Add(time.Hour).Unix(), 10))
	if err := verifyCallback("callback-secret", refreshed, first.body, clock.Add(time.Hour)); err == nil {
		t.Error("a request replayed with a new timestamp verifies")
	}

	before := calls.Load()
	b.click(t, c, "btn_bad", "Mauvais", "wamid.about-26")
	if calls.Load() != before || len(b.replies(t)) != 1 {
		t.Errorf("a refused callback (401) was retried or answered")
	}
	if notes := b.notes(t, "sale.order", 26); !strings.Contains(notes, "HTTP 401") {
		t.Errorf("chatter %q", notes)
	}
}

// By default a callback may not reach the sidecar's own host or network: a URL
// on 127.0.0.1, or a name resolving there, is refused when dialled, reported, and
// the receiver never hears of it; with AllowPrivateCallbacks it is called.
func TestCallbackToLoopback(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = io.WriteString(w, `{"reply":"reçu"}`)
	}))
	t.Cleanup(receiver.Close)
	port := receiver.Listener.Addr().(*net.TCPAddr).Port
	for _, target := range []string{receiver.URL, "http://localhost:" + itoa(port) + "/hook"} {
		t.Run(target, func(t *testing.T) {
			b := setup(t)
			b.db.Exec(t, `INSERT INTO whatsapp_button_action (name, button_id, action_type, callback_url)
				VALUES ('Interne', 'btn_internal', 'http_callback', $1)`, target)
			c := b.customer(t, awa)
			b.click(t, c, "btn_internal", "Interne", "")
			if n := calls.Load(); n != 0 || len(b.replies(t)) != 0 {
				t.Fatalf("refused callback reached the receiver %d times, replies %+v", n, b.replies(t))
			}
			notes := b.notes(t, "res.partner", odoosim.PartnerAwa)
			if !strings.Contains(notes, "is loopback") || !strings.Contains(notes, "public addresses only") {
				t.Errorf("partner chatter %q does not say why", notes)
			}

			allowed := setup(t)
			allowed.runner.AllowPrivateCallbacks = true
			allowed.db.Exec(t, `INSERT INTO whatsapp_button_action (name, button_id, action_type, callback_url)
				VALUES ('Interne', 'btn_internal', 'http_callback', $1)`, target)
			allowed.click(t, allowed.customer(t, awa), "btn_internal", "Interne", "")
			if r := allowed.replies(t); calls.Swap(0) != 1 || len(r) != 1 || r[0].Content != "reçu" {
				t.Errorf("allowed: replies %+v", r)
			}
		})
	}
}

// A receiver answering with a redirect is not followed there: the callback fails
// with the 3xx, not retried, and the redirect's target is never called.
func TestCallbackRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	var redirected, elsewhere atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		_, _ = io.WriteString(w, `{"reply":"détourné"}`)
	}))
	t.Cleanup(target.Close)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		redirected.Add(1)
		http.Redirect(w, r, target.URL+"/stolen", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(receiver.Close)
	b := setup(t)
	b.runner.AllowPrivateCallbacks = true
	b.db.Exec(t, `INSERT INTO whatsapp_button_action (name, button_id, action_type, callback_url, callback_secret)
		VALUES ('CRM', 'btn_crm', 'http_callback', $1, 'callback-secret')`, receiver.URL)
	b.click(t, b.customer(t, awa), "btn_crm", "CRM", "")
	if redirected.Load() != 1 || elsewhere.Load() != 0 || len(b.replies(t)) != 0 {
		t.Errorf("receiver called %d times, redirect target %d times, replies %+v", redirected.Load(), elsewhere.Load(), b.replies(t))
	}
	if notes := b.notes(t, "res.partner", odoosim.PartnerAwa); !strings.Contains(notes, "HTTP 307") || !strings.Contains(notes, "redirect not followed") {
		t.Errorf("partner chatter %q", notes)
	}
}

// odoo_method needs Odoo's API; without it the click is reported, not faked.
func TestOdooMethodWithoutAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.db.Exec(t, `INSERT INTO whatsapp_button_action (name, button_id, action_type, odoo_model, odoo_method)
		VALUES ('Archiver', 'btn_archive', 'odoo_method', 'res.partner', 'action_archive'),
		       ('Confirmer', 'btn_confirm_', 'odoo_method', 'sale.order', 'action_confirm')`)
	c := b.customer(t, awa)
	b.click(t, c, "btn_archive", "Archiver", "")
	if notes := b.notes(t, "res.partner", odoosim.PartnerAwa); !strings.Contains(notes, "ODOO_URL") {
		t.Errorf("partner chatter %q", notes)
	}
	// sale.order.action_confirm is the built-in confirmation, the seed's fallback included.
	order, _ := b.order(t, odoosim.PartnerAwa)
	b.click(t, c, "btn_confirm_"+itoa(order), "Confirmer", "")
	var state string
	b.db.QueryRow(t, []any{&state}, `SELECT state FROM sale_order WHERE id = $1`, order)
	if r := b.replies(t); state != "sale" || len(r) != 1 || r[0].Kind != "reply_order_validated" {
		t.Errorf("state %s replies %+v", state, r)
	}
}

// On a database where the seed module ran, its custom_python rows for the same
// buttons (button_id "btn_validate_order", seed rule "+_") stay in place; the
// built-in with the more specific prefix runs, the Python is not reported.
func TestSeedRowsDoNotShadowBuiltIns(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.db.Exec(t, `INSERT INTO whatsapp_button_action (name, button_id, action_type, python_code, sequence)
		VALUES ('Validation de commande (avec ID)', 'btn_validate_order', 'custom_python', 'order.write({})', 1)`)
	order, _ := b.order(t, odoosim.PartnerAwa)
	b.click(t, b.customer(t, awa), "btn_validate_order_"+itoa(order), "Valider", "")
	var state string
	b.db.QueryRow(t, []any{&state}, `SELECT state FROM sale_order WHERE id = $1`, order)
	if r := b.replies(t); state != "sale" || len(r) != 1 || r[0].Kind != "reply_order_validated" {
		t.Errorf("state %s replies %+v", state, r)
	}
	if notes := b.notes(t, "res.partner", odoosim.PartnerAwa); notes != "" {
		t.Errorf("partner chatter %q", notes)
	}
}
