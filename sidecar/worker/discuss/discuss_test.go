package discuss_test

import (
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/accounts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/odoosim"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/invoicepdf"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/config"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/inbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/outbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator/emulatortest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/discuss"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/inbound"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/send"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	token         = "EAAG-discuss-token"
	phoneNumberID = emulator.DefaultPhoneNumberID
	awaWaID       = "221771234567" // partner 42 of the demo data, mobile "+221 77 123 45 67"
	adminPartner  = 3              // the Sales team's only user: the default operator
)

type bundle struct {
	db        *pgtest.DB
	pool      *pgxpool.Pool
	emu       *emulator.Server
	processor *inbound.Processor
	sender    *send.Sender
	worker    *discuss.Worker
	metrics   *prometheus.Registry
}

// setup is a sidecar-installed Odoo database with one active WhatsApp config, the
// webhook processor, the sender talking to an emulator, and the discuss worker.
func setup(t *testing.T) *bundle {
	t.Helper()
	ctx := context.Background()
	db := pgtest.NewDB(t, pgtest.Sidecar)
	b := &bundle{db: db, pool: db.Pool(t)}
	b.emu = emulatortest.Start(t, emulator.Config{AccessToken: token, PhoneNumberID: phoneNumberID})
	db.Exec(t, `INSERT INTO whatsapp_config (name, phone_number_id, access_token, company_id, default_country_code, is_active)
		VALUES ('Boutique', $1, $2, 1, 'SN', true)`, phoneNumberID, token)
	reg := accounts.New(accounts.Options{Env: config.WhatsApp{APIURL: b.emu.BaseURL()}})
	if err := reg.Load(ctx, b.pool); err != nil {
		t.Fatal(err)
	}
	b.processor = &inbound.Processor{Pool: b.pool, Accounts: reg, SkipMedia: true}
	b.sender = &send.Sender{Pool: b.pool, Accounts: reg, PDFs: &invoicepdf.Source{},
		PairInterval: time.Millisecond, PairBurst: 100, Backoff: func(int) time.Duration { return 0 }}
	b.metrics = prometheus.NewRegistry()
	b.worker = &discuss.Worker{Pool: b.pool, Accounts: reg, Metrics: discuss.NewMetrics(b.metrics)}
	t.Cleanup(func() {
		if b.worker.Notifier != nil {
			b.worker.Notifier.Close(context.Background())
		}
	})
	return b
}

// receive stores a webhook delivery as the intake does and processes it.
func (b *bundle) receive(t *testing.T, body []byte) {
	t.Helper()
	if err := inbox.Store(context.Background(), b.pool, [][]byte{body}, []string{""}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.processor.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (b *bundle) drain(t *testing.T) {
	t.Helper()
	if _, err := b.worker.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func textFrom(waID, name, wamid, body string, at time.Time) []byte {
	return payload(whatsapp.WebhookValue{
		Contacts: []whatsapp.WebhookContact{{Profile: whatsapp.WebhookProfile{Name: name}, WaID: waID}},
		Messages: []whatsapp.InboundMessage{{From: waID, ID: wamid, Timestamp: strconv.FormatInt(at.Unix(), 10), Type: "text",
			Text: &whatsapp.Text{Body: body}}},
	})
}

func clickFrom(waID, wamid, buttonID, title string) []byte {
	return payload(whatsapp.WebhookValue{
		Contacts: []whatsapp.WebhookContact{{Profile: whatsapp.WebhookProfile{Name: "Client"}, WaID: waID}},
		Messages: []whatsapp.InboundMessage{{From: waID, ID: wamid, Timestamp: strconv.FormatInt(time.Now().Unix(), 10), Type: "interactive",
			Interactive: &whatsapp.InboundInteractive{Type: "button_reply", ButtonReply: &whatsapp.ButtonReply{ID: buttonID, Title: title}}}},
	})
}

func payload(value whatsapp.WebhookValue) []byte {
	value.MessagingProduct = "whatsapp"
	value.Metadata = whatsapp.WebhookMetadata{DisplayPhoneNumber: emulator.DefaultDisplayPhoneNumber, PhoneNumberID: phoneNumberID}
	body, _ := json.Marshal(whatsapp.WebhookPayload{Object: "whatsapp_business_account", Entry: []whatsapp.WebhookEntry{{
		ID: emulator.DefaultWABAID, Changes: []whatsapp.WebhookChange{{Field: "messages", Value: value}},
	}}})
	return body
}

// withAwa is setup with Awa's conversation opened by her message text, and its
// channel.
func withAwa(t *testing.T, text string) (*bundle, int) {
	t.Helper()
	b := setup(t)
	b.receive(t, textFrom(awaWaID, "Awa", "wamid.first", text, time.Now()))
	b.drain(t)
	return b, b.channelOf(t, awaWaID)
}

// metric is the value of a counter with one label.
func (b *bundle) metric(t *testing.T, name, label, value string) float64 {
	t.Helper()
	families, err := b.metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// count runs a count query.
func (b *bundle) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := b.pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// channelOf is the Discuss channel of the customer's conversation.
func (b *bundle) channelOf(t *testing.T, waID string) int {
	t.Helper()
	var id *int
	if err := b.pool.QueryRow(context.Background(), `SELECT discuss_channel_id FROM whatsapp_conversation WHERE wa_id = $1`, waID).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if id == nil {
		t.Fatal("the conversation has no Discuss channel")
	}
	return *id
}

type posted struct {
	ID       int
	Author   int
	Type     string
	Body     string
	Tracking string
}

// posts are the channel's messages, oldest first, with their status line.
func (b *bundle) posts(t *testing.T, channel int) []posted {
	t.Helper()
	rows, err := b.pool.Query(context.Background(), `
		SELECT m.id, COALESCE(m.author_id, 0), m.message_type, COALESCE(m.body, ''),
		    COALESCE((SELECT old_value_char || ' → ' || new_value_char FROM mail_tracking_value v WHERE v.mail_message_id = m.id), '')
		FROM mail_message m WHERE m.model = 'mail.channel' AND m.res_id = $1 ORDER BY m.id`, channel)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[posted])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// operatorWrites posts in the channel what Odoo's /mail/message/post writes for
// the admin (trace step 4): a comment authored by the operator, in Odoo's own
// transaction.
func (b *bundle) operatorWrites(t *testing.T, channel int, text string) int {
	t.Helper()
	return b.writes(t, channel, adminPartner, text)
}

// writes posts in the channel as author, in Odoo's way.
func (b *bundle) writes(t *testing.T, channel, author int, text string) int {
	t.Helper()
	var id int
	err := b.pool.QueryRow(context.Background(), `
		INSERT INTO mail_message (author_guest_id, author_id, body, create_date, create_uid, date, email_add_signature, email_from,
		    message_id, message_type, model, parent_id, record_name, reply_to, res_id, subject, subtype_id, write_date, write_uid)
		VALUES (NULL, $4, $2, now() AT TIME ZONE 'utc', 2, date_trunc('second', now() AT TIME ZONE 'utc'), true, NULL,
		    $3, 'comment', 'mail.channel', NULL, 'x', NULL, $1, NULL, 1,
		    now() AT TIME ZONE 'utc', 2) RETURNING id`, channel, "<p>"+text+"</p>", "<1.2-openerp-"+strconv.Itoa(channel)+"-mail.channel@vm>", author).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// traceSteps are the steps of testdata/odoo16/discuss_trace.sql, what Odoo 16 wrote.
func traceSteps(t *testing.T) []odoosim.Step {
	t.Helper()
	path, err := pgtest.OdooFile("discuss_trace.sql")
	if err != nil {
		t.Fatal(err)
	}
	steps, err := odoosim.LoadTrace(path)
	if err != nil {
		t.Fatal(err)
	}
	return steps
}

// recordedPayload is the new_message bus payload Odoo wrote for step 3 of the
// Discuss trace (a message_post on a channel with a customer as author).
func recordedPayload(t *testing.T) map[string]any {
	t.Helper()
	re := regexp.MustCompile(`'(\{"type":"mail\.channel/new_message".*?\}\}\})'`)
	for _, stmt := range traceSteps(t)[2].Statements {
		if m := re.FindStringSubmatch(stmt); m != nil {
			var v map[string]any
			if err := json.Unmarshal([]byte(m[1]), &v); err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatal("no new_message bus row in step 3 of discuss_trace.sql")
	return nil
}

// recordedColumns are the columns of Odoo's INSERT into table in step step of the
// Discuss trace, and whether the value it wrote (in its first row) was NULL.
func recordedColumns(t *testing.T, step int, table string) map[string]bool {
	t.Helper()
	insert := regexp.MustCompile(`^INSERT INTO "` + table + `" \(([^)]*)\) VALUES \((.*?)\)(?:, \(| RETURNING)`)
	var m []string
	for _, stmt := range traceSteps(t)[step-1].Statements {
		if m = insert.FindStringSubmatch(stmt); m != nil {
			break
		}
	}
	if m == nil {
		t.Fatalf("no INSERT INTO %s in step %d of discuss_trace.sql", table, step)
	}
	cols := strings.Split(m[1], ", ")
	vals := splitValues(m[2])
	if len(cols) != len(vals) {
		t.Fatalf("%s: %d columns, %d values", table, len(cols), len(vals))
	}
	out := map[string]bool{}
	for i, c := range cols {
		out[strings.Trim(c, `"`)] = vals[i] == "NULL"
	}
	return out
}

// splitValues splits a VALUES list at its top-level commas (not inside quotes).
func splitValues(s string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			quoted = !quoted // '' inside a string toggles twice
			cur.WriteByte(c)
		case c == ',' && !quoted:
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, strings.TrimSpace(cur.String()))
}

func keys(v any) []string {
	m, _ := v.(map[string]any)
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// A customer's message becomes a channel whose member is the operator, and a
// message authored by the customer's partner, with the columns and the bus
// notification Odoo's own message_post writes; the NOTIFY reaches Odoo's channel.
func TestCustomerMessageIsPostedInItsChannelAsOdooPostsIt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	imbus := listenImbus(t, b.db)

	b.receive(t, textFrom(awaWaID, "Awa", "wamid.in1", "Bonjour, où en est ma commande ?", time.Now()))
	b.drain(t)

	ch := b.channelOf(t, awaWaID)
	var typ, name, uuid string
	var members []int
	if err := b.pool.QueryRow(ctx, `SELECT channel_type, name, uuid, ARRAY(SELECT partner_id FROM mail_channel_member WHERE channel_id = c.id ORDER BY partner_id)
		FROM mail_channel c WHERE id = $1`, ch).Scan(&typ, &name, &uuid, &members); err != nil {
		t.Fatal(err)
	}
	if typ != "group" || name != "Awa Ndiaye (+221771234567)" || len(uuid) != 10 || len(members) != 1 || members[0] != adminPartner {
		t.Fatalf("channel %q type %s uuid %q members %v, want the group \"Awa Ndiaye (+221771234567)\" of the admin", name, typ, uuid, members)
	}
	posts := b.posts(t, ch)
	if len(posts) != 1 || posts[0].Author != 42 || posts[0].Type != "comment" || posts[0].Body != "<p>Bonjour, où en est ma commande ?</p>" {
		t.Fatalf("posts %+v, want the customer's text by partner 42", posts)
	}
	// Every column Odoo filled in its own rows (trace steps 2 and 3: the channel,
	// its members, the message) is filled in ours, and those it left NULL too.
	for _, rec := range []struct {
		step         int
		table, where string
		id           int
	}{
		{2, "mail_channel", "id = $1", ch},
		{2, "mail_channel_member", "channel_id = $1", ch},
		{3, "mail_message", "id = $1", posts[0].ID},
	} {
		for col, null := range recordedColumns(t, rec.step, rec.table) {
			var isNull bool
			if err := b.pool.QueryRow(ctx, `SELECT bool_or(`+col+` IS NULL) FROM `+rec.table+` WHERE `+rec.where, rec.id).Scan(&isNull); err != nil {
				t.Fatal(err)
			}
			if isNull != null {
				t.Errorf("%s.%s: NULL is %v, Odoo's is %v", rec.table, col, isNull, null)
			}
		}
	}
	var message string
	if err := b.pool.QueryRow(ctx, `SELECT message FROM bus_bus WHERE channel = $1 AND message LIKE '{"type":"mail.channel/new_message"%'`,
		`["`+b.db.Name+`","res.partner",3]`).Scan(&message); err != nil {
		t.Fatalf("no new_message for the operator's partner: %v", err)
	}
	var ours map[string]any
	if err := json.Unmarshal([]byte(message), &ours); err != nil {
		t.Fatal(err)
	}
	odoo := recordedPayload(t)
	ourMsg := ours["payload"].(map[string]any)["message"]
	odooMsg := odoo["payload"].(map[string]any)["message"]
	if got, want := strings.Join(keys(ourMsg), " "), strings.Join(keys(odooMsg), " "); got != want {
		t.Errorf("message payload keys\n got %s\nwant %s (Odoo's)", got, want)
	}
	if a := ourMsg.(map[string]any)["author"].(map[string]any); a["name"] != "Awa Ndiaye" {
		t.Errorf("author %v, want Awa Ndiaye", a)
	}
	select {
	case got := <-imbus:
		if !strings.Contains(got, `["`+b.db.Name+`","res.partner",3]`) {
			t.Errorf("NOTIFY imbus %s does not name the operator's partner channel", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no NOTIFY imbus on the postgres database")
	}
}

// listenImbus listens to imbus on the server's postgres database (where Odoo
// listens) and hands over the payloads naming db's channels.
func listenImbus(t *testing.T, db *pgtest.DB) <-chan string {
	t.Helper()
	u, err := url.Parse(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/postgres"
	conn, err := pgx.Connect(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(context.Background(), `LISTEN imbus`); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan string, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			n, err := conn.WaitForNotification(ctx)
			if err != nil {
				return
			}
			if strings.Contains(n.Payload, `"`+db.Name+`"`) {
				out <- n.Payload
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		conn.Close(context.Background())
	})
	return out
}

// A click shows as the button's title; a message from an unknown number is
// authored by a partner created for it, tagged as such.
func TestClickShowsItsTitleAndUnknownNumberGetsAContact(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.receive(t, clickFrom("221701112233", "wamid.click1", "btn_view_order_details_21", "Voir détail"))
	b.drain(t)
	ch := b.channelOf(t, "221701112233")
	posts := b.posts(t, ch)
	if len(posts) == 0 || posts[0].Body != "<p>🔘 Voir détail</p>" {
		t.Fatalf("posts %+v, want the click as its title first", posts)
	}
	b.receive(t, payload(whatsapp.WebhookValue{
		Contacts: []whatsapp.WebhookContact{{Profile: whatsapp.WebhookProfile{Name: "Client"}, WaID: "221701112233"}},
		Messages: []whatsapp.InboundMessage{{From: "221701112233", ID: "wamid.vcard", Timestamp: strconv.FormatInt(time.Now().Unix(), 10),
			Type: "contacts", Contacts: []whatsapp.Contact{{Name: whatsapp.ContactName{FormattedName: "Moussa Diop"},
				Phones: []whatsapp.ContactPhone{{Phone: "+221 77 123 45 68"}}}}}},
	}))
	b.drain(t)
	if posts := b.posts(t, ch); posts[len(posts)-1].Body != "<p>👤 Moussa Diop +221 77 123 45 68</p>" {
		t.Errorf("shared contact shown as %q", posts[len(posts)-1].Body)
	}
	var name, tag string
	var mobile string
	if err := b.pool.QueryRow(context.Background(), `SELECT p.name, p.mobile, c.name->>'en_US' FROM res_partner p
		JOIN res_partner_res_partner_category_rel r ON r.partner_id = p.id JOIN res_partner_category c ON c.id = r.category_id
		WHERE p.id = $1`, posts[0].Author).Scan(&name, &mobile, &tag); err != nil {
		t.Fatalf("author %d is not a tagged partner: %v", posts[0].Author, err)
	}
	if name != "Client" || mobile != "+221701112233" || tag != "WhatsApp : numéro inconnu" {
		t.Fatalf("partner %q %q tagged %q", name, mobile, tag)
	}
}

// An operator's message in the channel is sent once to the customer; the channel
// shows its status as it moves.
func TestOperatorMessageIsSentOnce(t *testing.T) {
	t.Parallel()
	b, ch := withAwa(t, "Bonjour")
	ctx := context.Background()

	// An integration posting as the customer (message_post with author_id) is not an answer.
	b.writes(t, ch, 42, "posted by an integration as Awa")
	mid := b.operatorWrites(t, ch, "Bonjour Awa, elle part demain &amp; arrive jeudi.")
	b.drain(t)
	b.drain(t) // a second pass finds nothing more to do
	if _, err := b.sender.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, r := range b.emu.Requests() {
		if strings.HasSuffix(r.Path, "/messages") && r.Status == 200 {
			var req whatsapp.SendRequest
			if err := json.Unmarshal(r.Body, &req); err != nil {
				t.Fatal(err)
			}
			if req.Text != nil {
				texts = append(texts, req.To+": "+req.Text.Body)
			}
		}
	}
	if len(texts) != 1 || texts[0] != "+221771234567: Bonjour Awa, elle part demain & arrive jeudi." {
		t.Fatalf("sent %q, want the operator's text once to Awa", texts)
	}
	if n := b.metric(t, "whatsapp_discuss_operator_messages_total", "outcome", "queued"); n != 1 {
		t.Errorf("whatsapp_discuss_operator_messages_total{outcome=\"queued\"} = %v, want 1", n)
	}
	b.drain(t)
	var tracking string
	if err := b.pool.QueryRow(ctx, `SELECT old_value_char || ' → ' || new_value_char FROM mail_tracking_value WHERE mail_message_id = $1`, mid).
		Scan(&tracking); err != nil {
		t.Fatal(err)
	}
	if tracking != "En file d'attente → Envoyé" {
		t.Errorf("status under the operator's message %q, want \"En file d'attente → Envoyé\"", tracking)
	}
}

// Outside the 24-hour window an operator's free text is not sent; the channel said
// so when the window closed, and says why it was not sent.
func TestOutsideTheWindowNothingIsSentAndTheChannelSaysWhy(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.receive(t, textFrom(awaWaID, "Awa", "wamid.old", "Bonjour", time.Now().Add(-30*time.Hour)))
	b.db.Exec(t, `UPDATE whatsapp_conversation SET last_inbound_at = (now() AT TIME ZONE 'utc') - interval '30 hours'`)
	b.db.Exec(t, `INSERT INTO whatsapp_template (name, wa_name, language_code, status, notification_kind, config_id)
		SELECT 'Relance', 'relance_client', 'fr', 'APPROVED', 'discuss_reply', id FROM whatsapp_config`)
	b.drain(t)
	ch := b.channelOf(t, awaWaID)
	posts := b.posts(t, ch)
	if len(posts) != 2 || posts[1].Type != "notification" || !strings.Contains(posts[1].Body, "24 heures") || !strings.Contains(posts[1].Body, "relance_client") {
		t.Fatalf("posts %+v, want the message then the window notice offering relance_client", posts)
	}

	mid := b.operatorWrites(t, ch, "Votre colis est prêt")
	b.drain(t)
	if _, err := b.sender.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if n := emulatortest.Accepted(b.emu); n != 0 {
		t.Fatalf("%d messages reached Meta, want none", n)
	}
	var status, reason string
	if err := b.pool.QueryRow(ctx, `SELECT status, error_message FROM whatsapp_message WHERE discuss_message_id = $1`, mid).Scan(&status, &reason); err != nil {
		t.Fatal(err)
	}
	if status != "failed" || !strings.Contains(reason, "24 heures") {
		t.Errorf("row %s %q, want failed: window closed", status, reason)
	}
	posts = b.posts(t, ch)
	last := posts[len(posts)-1]
	if last.Type != "notification" || !strings.Contains(last.Body, "Non envoyé") {
		t.Errorf("last post %+v, want the notice that it was not sent", last)
	}
	if posts[len(posts)-2].Tracking == "" || !strings.Contains(posts[len(posts)-2].Tracking, "Échec") {
		t.Errorf("operator's message status %q, want a failure", posts[len(posts)-2].Tracking)
	}
}

// The capture trigger records nothing for a message on another record, nor for
// the sidecar's own posts; a rolled-back post records nothing.
func TestCaptureIgnoresOtherMessagesAndTheSidecarsOwn(t *testing.T) {
	t.Parallel()
	b, ch := withAwa(t, "Bonjour")
	ctx := context.Background()
	b.db.Exec(t, `INSERT INTO mail_message (model, res_id, body, message_type, subtype_id, author_id, date)
		VALUES ('sale.order', 21, '<p>note</p>', 'comment', 1, 3, now() AT TIME ZONE 'utc')`)
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO mail_message (model, res_id, body, message_type, subtype_id, author_id, date)
		VALUES ('mail.channel', $1, '<p>rolled back</p>', 'comment', 1, 3, now() AT TIME ZONE 'utc')`, ch); err != nil {
		t.Fatal(err)
	}
	tx.Rollback(ctx)
	if n := b.count(t, `SELECT count(*) FROM whatsapp_sidecar.discuss_capture`); n != 0 {
		t.Fatalf("%d captures, want none (the sidecar's posts, another record's note, a rollback)", n)
	}
	b.operatorWrites(t, ch, "ok")
	if n := b.count(t, `SELECT count(*) FROM whatsapp_sidecar.discuss_capture`); n != 1 {
		t.Fatalf("%d captures of the operator's message, want 1", n)
	}
}

// A STOP is shown in the channel, and nothing an operator writes reaches the
// customer after it.
func TestOptOutIsShownAndNothingMoreIsSent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.receive(t, textFrom(awaWaID, "Awa", "wamid.stop", "STOP", time.Now()))
	if _, err := b.sender.Drain(ctx); err != nil { // the confirmation the inbox queued
		t.Fatal(err)
	}
	b.drain(t)
	ch := b.channelOf(t, awaWaID)
	found := false
	for _, p := range b.posts(t, ch) {
		if p.Type == "notification" && strings.Contains(p.Body, "désinscrit") {
			found = true
		}
	}
	if !found {
		t.Fatalf("posts %+v, want a notice that the customer opted out", b.posts(t, ch))
	}
	sentBefore := emulatortest.Accepted(b.emu)
	mid := b.operatorWrites(t, ch, "Une dernière chose")
	b.drain(t)
	if _, err := b.sender.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if n := emulatortest.Accepted(b.emu); n != sentBefore {
		t.Fatalf("%d more messages reached Meta after STOP, want none", n-sentBefore)
	}
	var status, reason string
	if err := b.pool.QueryRow(ctx, `SELECT status, error_message FROM whatsapp_message WHERE discuss_message_id = $1`, mid).Scan(&status, &reason); err != nil {
		t.Fatal(err)
	}
	if status != "failed" || !strings.Contains(reason, "STOP") {
		t.Errorf("operator's message %s %q, want failed: opted out", status, reason)
	}
}

// A notification to a customer who never wrote starts the conversation and its
// channel; its status follows Meta's, a failure with its reason; the order's
// chatter links to the channel.
func TestNotificationStartsTheConversationAndItsStatusFollows(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var id int
	if err := b.pool.QueryRow(ctx, `INSERT INTO whatsapp_message (direction, config_id, contact_id, content, message_type, kind,
		res_model, res_id, buttons, status)
		SELECT 'out', id, 42, 'Votre commande S00021 est confirmée.', 'interactive', 'order_confirmed', 'sale.order', 21,
		    '[{"id":"btn_view_order_details_21","title":"Voir détail"}]', 'queued' FROM whatsapp_config RETURNING id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	b.drain(t) // queued: not posted yet
	if _, err := b.sender.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	b.drain(t)
	ch := b.channelOf(t, awaWaID)
	posts := b.posts(t, ch)
	var business int
	if err := b.pool.QueryRow(ctx, `SELECT partner_id FROM res_company WHERE id = 1`).Scan(&business); err != nil {
		t.Fatal(err)
	}
	if len(posts) < 2 || posts[0].Author != business {
		t.Fatalf("posts %+v, want the notification by the company's partner %d, then a notice", posts, business)
	}
	first := posts[0]
	if !strings.Contains(first.Body, "S00021 est confirmée") || !strings.Contains(first.Body, "[Voir détail]") || first.Tracking != "Odoo → Envoyé" {
		t.Fatalf("first post %+v, want the notification with its button, sent", first)
	}
	if !strings.Contains(posts[1].Body, "24 heures") {
		t.Errorf("second post %+v, want the notice that the window is closed (the customer never wrote)", posts[1])
	}
	var wamid string
	if err := b.pool.QueryRow(ctx, `SELECT wa_message_id FROM whatsapp_message WHERE id = $1`, id).Scan(&wamid); err != nil {
		t.Fatal(err)
	}
	if _, err := outbox.ApplyStatus(ctx, b.pool, outbox.StatusUpdate{WaMessageID: wamid, Status: "failed", Timestamp: time.Now(),
		ErrorCode: 131026, ErrorMessage: "Message undeliverable"}); err != nil {
		t.Fatal(err)
	}
	b.drain(t)
	posts = b.posts(t, ch)
	if got := posts[0].Tracking; got != "Envoyé → Échec : Message undeliverable (131026)" {
		t.Errorf("status %q, want the failure with its reason", got)
	}
	links := b.count(t, `SELECT count(*) FROM mail_message WHERE model = 'sale.order' AND res_id = 21 AND body LIKE $1`,
		"%active_id=mail.channel_"+strconv.Itoa(ch)+"%")
	if links != 1 {
		t.Errorf("%d links to the conversation in the order's chatter, want 1", links)
	}
}

// A conversation is assigned and closed from the channel or from Odoo's form; the
// channel says so, and the customer writing again reopens it.
func TestAssignCloseAndReopen(t *testing.T) {
	t.Parallel()
	b, ch := withAwa(t, "Bonjour")
	ctx := context.Background()
	b.operatorWrites(t, ch, "/assign")
	b.operatorWrites(t, ch, "/close")
	b.drain(t)
	var state string
	var assigned *int
	if err := b.pool.QueryRow(ctx, `SELECT COALESCE(state, 'open'), assigned_user_id FROM whatsapp_conversation WHERE wa_id = $1`, awaWaID).
		Scan(&state, &assigned); err != nil {
		t.Fatal(err)
	}
	if state != "closed" || assigned == nil || *assigned != 2 {
		t.Fatalf("conversation %s assigned to %v, want closed, assigned to the admin", state, assigned)
	}
	if n := emulatortest.Accepted(b.emu); n != 0 {
		t.Fatalf("commands sent %d messages to the customer", n)
	}
	b.receive(t, textFrom(awaWaID, "Awa", "wamid.a2", "Encore moi", time.Now()))
	b.drain(t)
	b.db.Exec(t, `UPDATE whatsapp_conversation SET assigned_user_id = NULL, write_uid = 2 WHERE wa_id = $1`, awaWaID)
	b.drain(t)
	var notices []string
	for _, p := range b.posts(t, ch) {
		if p.Type == "notification" {
			notices = append(notices, p.Body)
		}
	}
	want := []string{"assignée à Mitchell Admin", "fermée par Mitchell Admin", "rouverte : le client a écrit", "désassignée par Mitchell Admin"}
	if len(notices) != len(want) {
		t.Fatalf("notices %q, want %q", notices, want)
	}
	for i, w := range want {
		if !strings.Contains(notices[i], w) {
			t.Errorf("notice %d %q, want %q", i, notices[i], w)
		}
	}
}

// When a conversation's 24-hour window closes, its channel says so once.
func TestWindowClosingIsToldOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.receive(t, textFrom(awaWaID, "Awa", "wamid.w1", "Bonjour", time.Now()))
	b.drain(t)
	ch := b.channelOf(t, awaWaID)
	b.db.Exec(t, `UPDATE whatsapp_conversation SET last_inbound_at = last_inbound_at - interval '25 hours'`)
	b.drain(t)
	b.drain(t)
	n := 0
	for _, p := range b.posts(t, ch) {
		if p.Type == "notification" && strings.Contains(p.Body, "24 heures") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d window notices, want 1", n)
	}
}

// A file an operator attaches in the channel goes to the customer as a document,
// with the text as its caption.
func TestOperatorFileIsSentAsADocument(t *testing.T) {
	t.Parallel()
	b, ch := withAwa(t, "Le devis ?")
	ctx := context.Background()
	// What Odoo writes: the upload first (its own transaction), then the post
	// linking it (message_attachment_rel, filled after the mail_message insert).
	var att int
	if err := b.pool.QueryRow(ctx, `INSERT INTO ir_attachment (name, type, db_datas, mimetype, file_size, res_model, res_id, create_uid, create_date)
		VALUES ('devis.pdf', 'binary', '%PDF-1.4 devis', 'application/pdf', 14, 'mail.channel', $1, 2, now() AT TIME ZONE 'utc') RETURNING id`, ch).Scan(&att); err != nil {
		t.Fatal(err)
	}
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var mid int
	if err := tx.QueryRow(ctx, `INSERT INTO mail_message (model, res_id, body, message_type, subtype_id, author_id, create_uid, date)
		VALUES ('mail.channel', $1, '<p>Voici le devis</p>', 'comment', 1, 3, 2, now() AT TIME ZONE 'utc') RETURNING id`, ch).Scan(&mid); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO message_attachment_rel (message_id, attachment_id) VALUES ($1, $2)`, mid, att); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	b.drain(t)
	if _, err := b.sender.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	var docs []string
	for _, r := range b.emu.Requests() {
		if strings.HasSuffix(r.Path, "/messages") && r.Status == 200 {
			var req whatsapp.SendRequest
			if err := json.Unmarshal(r.Body, &req); err != nil {
				t.Fatal(err)
			}
			if req.Document != nil {
				docs = append(docs, req.Document.Filename+": "+req.Document.Caption)
			}
		}
	}
	if len(docs) != 1 || docs[0] != "devis.pdf: Voici le devis" {
		t.Fatalf("documents sent %q, want devis.pdf once with its caption", docs)
	}
}

// A customer's reaction to one of our messages shows as an Odoo reaction on it, by
// the customer; a new emoji replaces it, as on WhatsApp.
func TestReactionIsAnOdooReaction(t *testing.T) {
	t.Parallel()
	b, ch := withAwa(t, "Bonjour")
	ctx := context.Background()
	mid := b.operatorWrites(t, ch, "Votre colis part demain")
	b.drain(t)
	if _, err := b.sender.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	var wamid string
	if err := b.pool.QueryRow(ctx, `SELECT wa_message_id FROM whatsapp_message WHERE discuss_message_id = $1`, mid).Scan(&wamid); err != nil {
		t.Fatal(err)
	}
	react := func(id, emoji string) []byte {
		return payload(whatsapp.WebhookValue{
			Contacts: []whatsapp.WebhookContact{{Profile: whatsapp.WebhookProfile{Name: "Awa"}, WaID: awaWaID}},
			Messages: []whatsapp.InboundMessage{{From: awaWaID, ID: id, Timestamp: strconv.FormatInt(time.Now().Unix(), 10), Type: "reaction",
				Reaction: &whatsapp.InboundReaction{MessageID: wamid, Emoji: emoji}}},
		})
	}
	before := len(b.posts(t, ch))
	b.receive(t, react("wamid.r2", "👍"))
	b.drain(t)
	b.receive(t, react("wamid.r3", "❤️"))
	b.drain(t)
	var reactions []string
	rows, err := b.pool.Query(ctx, `SELECT partner_id || ' ' || content FROM mail_message_reaction WHERE message_id = $1`, mid)
	if err != nil {
		t.Fatal(err)
	}
	if reactions, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	if len(reactions) != 1 || reactions[0] != "42 ❤️" {
		t.Fatalf("reactions on the operator's message %q, want Awa's ❤️ alone", reactions)
	}
	if after := len(b.posts(t, ch)); after != before {
		t.Errorf("%d posts after the reactions, want %d (a reaction is no message)", after, before)
	}
}

// A running worker tells the channel when the window closes, without waiting for
// its periodic look (an hour here).
func TestRunningWorkerTellsTheWindowClosingOnTime(t *testing.T) {
	t.Parallel()
	b, ch := withAwa(t, "Bonjour")
	b.db.Exec(t, `UPDATE whatsapp_conversation SET last_inbound_at = (now() AT TIME ZONE 'utc') - interval '24 hours' + interval '1 second'`)
	b.worker.WindowInterval = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.worker.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for b.count(t, `SELECT count(*) FROM mail_message WHERE model = 'mail.channel' AND res_id = $1 AND message_type = 'notification'
		AND body LIKE '%24 heures%'`, ch) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the channel was not told the window closed")
		}
		time.Sleep(20 * time.Millisecond) // polling the row: the signal is the notice itself
	}
}

// A message that cannot be posted holds back only itself, and is not tried again at
// every look.
func TestAFailingMessageHoldsBackOnlyItself(t *testing.T) {
	t.Parallel()
	b, ch := withAwa(t, "Bonjour")
	// Odoo refusing one message (a constraint, a broken module): counted in a
	// sequence, which a rollback does not undo.
	b.db.Exec(t, `CREATE SEQUENCE refusals`)
	b.db.Exec(t, `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.body LIKE '%boom%' THEN PERFORM nextval('refusals'); RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$`)
	b.db.Exec(t, `CREATE TRIGGER refuse BEFORE INSERT ON mail_message FOR EACH ROW EXECUTE FUNCTION refuse()`)
	b.receive(t, textFrom(awaWaID, "Awa", "wamid.boom", "boom", time.Now()))
	b.receive(t, textFrom(awaWaID, "Awa", "wamid.fine", "ça va ?", time.Now()))
	if _, err := b.worker.Drain(context.Background()); err == nil {
		t.Fatal("Drain reported no error for the refused message")
	}
	posts := b.posts(t, ch)
	if last := posts[len(posts)-1]; last.Body != "<p>ça va ?</p>" {
		t.Fatalf("last post %q, want the message after the refused one", last.Body)
	}
	tries := b.count(t, `SELECT last_value FROM refusals`)
	b.drain(t) // at once: the refused message waits for its retry
	if again := b.count(t, `SELECT last_value FROM refusals`); again != tries {
		t.Errorf("the refused message was tried %d more times at once", again-tries)
	}
}
