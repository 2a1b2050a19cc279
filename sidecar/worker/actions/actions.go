// Package actions decides and does what a customer's click asks: the interactive
// scenario step whose button was clicked, then the matching whatsapp_button_action
// (exact id, or prefix such as btn_validate_order_ + order id). Built-ins cover the
// seed module's flows (confirm or cancel an order, its details, the invoice PDF,
// payment instructions); odoo_method calls Odoo's external API so Odoo's business
// rules run; http_callback posts a signed JSON event; custom_python rows are
// reported, never run.
//
// An http_callback POSTs a CallbackEvent as JSON to the action's callback_url,
// with headers X-Sidecar-Event (button_click), X-Sidecar-Delivery (the click's
// wamid, the same on every retry: deduplicate on it), X-Sidecar-Timestamp (Unix
// seconds, of this attempt) and, when the action has a callback_secret,
// X-Sidecar-Signature-256 = "sha256=" + hex HMAC-SHA256(callback_secret,
// timestamp + "." + raw body). A receiver recomputes the HMAC over the timestamp
// header, a dot and the bytes it received, compares in constant time, and refuses
// a timestamp more than a few minutes from its clock: a captured request cannot
// be replayed. Network errors, 429 and 5xx are retried; a 3xx is a failure (the
// redirect is not followed); a 2xx may answer {"reply": "..."} for the customer.
// Callbacks go only to public addresses, checked on the address actually dialled
// (DNS rebinding included), unless Runner.AllowPrivateCallbacks is set.
//
// A click is handled in two phases. Click reads what it needs and makes the calls
// that leave the database (Odoo's JSON-RPC, callback URLs) with no transaction open;
// it returns a Plan. Plan.Apply then writes every database effect (state and flags,
// replies queued as whatsapp_message rows, chatter notes) in the caller's short
// transaction, the one that records the inbound message: a click is recorded and
// answered together, or not at all.
package actions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/accounts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify/texts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/odooweb"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/metrics"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/outbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/phone"
)

// DBTX is a pool, a connection or a transaction.
type DBTX = outbox.DBTX

// Action types (whatsapp_button_action.action_type).
const (
	TypeSendMessage    = "send_message"
	TypeUpdateContact  = "update_contact"
	TypeUpdateStatus   = "update_status"
	TypeCreateTicket   = "create_ticket"
	TypeCustomPython   = "custom_python"
	TypeValidateOrder  = "validate_order"
	TypeCancelOrder    = "cancel_order"
	TypeOrderDetails   = "order_details"
	TypeInvoicePDF     = "invoice_pdf"
	TypePaymentWave    = "payment_wave"
	TypePaymentOrange  = "payment_orange"
	TypePaymentDetails = "payment_details" // provider from the button id
	TypeOdooMethod     = "odoo_method"
	TypeHTTPCallback   = "http_callback"
	TypeCallback       = "callback" // alias of http_callback
)

// Types lists the action types the sidecar runs (custom_python is only reported).
var Types = []string{TypeSendMessage, TypeUpdateContact, TypeUpdateStatus, TypeCreateTicket, TypeCustomPython,
	TypeValidateOrder, TypeCancelOrder, TypeOrderDetails, TypeInvoicePDF, TypePaymentWave, TypePaymentOrange,
	TypePaymentDetails, TypeOdooMethod, TypeHTTPCallback, TypeCallback}

// SuperUser writes the sidecar's changes to Odoo's records (write_uid), as Odoo's own
// automated jobs do (base.user_root).
const SuperUser = 1

// Runner runs clicks. Set the exported fields; Pool is required.
type Runner struct {
	Pool *pgxpool.Pool
	// Odoo is Odoo's external API; nil means the database alone: order states are
	// written as the ORM would, with a warning that Odoo's rules did not run, and
	// odoo_method actions other than sale.order's confirm/cancel are reported.
	Odoo *odooweb.Client
	// HTTP posts callbacks; nil means a client without cookies. Its transport
	// must be nil or an *http.Transport: callbacks use a clone that dials
	// directly and checks each address dialled, and never follow redirects.
	HTTP *http.Client
	// AllowPrivateCallbacks lets http_callback actions reach loopback,
	// link-local, private, unspecified and multicast addresses (a receiver on
	// the sidecar's own host or network); by default they are refused. Read at
	// the first callback.
	AllowPrivateCallbacks bool
	// CallbackTimeout bounds one callback attempt; zero means 10s.
	CallbackTimeout time.Duration
	// CallbackAttempts before giving up on a callback; zero means 3.
	CallbackAttempts int
	// MaxAttempts of a click whose Odoo call failed for lack of an answer (Odoo down):
	// the click is retried this many times, then the customer is told. Zero means 3.
	MaxAttempts int
	Logger      *slog.Logger
	Metrics     *Metrics
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	clientOnce sync.Once
	client     *http.Client // callbackClient's
	clientErr  error
}

func (r *Runner) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

func (r *Runner) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

// Metrics of the actions.
type Metrics struct {
	actions *prometheus.CounterVec
}

// NewMetrics registers the actions' metrics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{actions: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Subsystem: "button_actions", Name: "total",
		Help: "Clicks handled, by action type (scenario for interactive scenarios, none when nothing matched) and outcome.",
	}, []string{"type", "outcome"})}
	reg.MustRegister(m.actions)
	return m
}

// Outcomes of an action, the values of the outcome label.
const (
	OutcomeDone          = "done"
	OutcomeAlready       = "already"   // nothing to change: already confirmed, cancelled, paid
	OutcomeNotFound      = "not_found" // no such record, or not the customer's
	OutcomeFailed        = "failed"    // Odoo or the callback refused
	OutcomeNotRun        = "not_run"   // custom_python, or a feature not configured
	OutcomeBypassedRules = "rules_bypassed"
	OutcomeNoMatch       = "no_match"
)

func (r *Runner) count(typ, outcome string) {
	if r.Metrics == nil {
		return
	}
	known := typ == "scenario" || typ == "none"
	for _, t := range Types {
		known = known || t == typ
	}
	if !known {
		typ = "other"
	}
	r.Metrics.actions.WithLabelValues(typ, outcome).Inc()
}

// Customer is who wrote: the account they wrote to, their number, their
// conversation, and the Odoo partner that number belongs to (nil when none).
type Customer struct {
	Account        *accounts.Account
	Phone          phone.Number
	ProfileName    string
	ConversationID int
	Partner        *notify.Partner
}

// Name is how to call the customer: their Odoo name, else their WhatsApp profile.
func (c Customer) Name() string {
	if c.Partner != nil && c.Partner.Name != "" {
		return c.Partner.Name
	}
	return c.ProfileName
}

// Click is a tap on a reply button or list row, or a template quick reply.
type Click struct {
	Customer
	ButtonID string
	Title    string
	// WaMessageID is the click's own wamid: replies are deduplicated on it.
	WaMessageID string
	// ContextID is the wamid of the message that carried the button.
	ContextID string
	At        time.Time
	// Attempt counts the tries of this click (1 the first time).
	Attempt int
}

// Record is the order or invoice a click was about.
type Record struct {
	Model string
	ID    int
	Name  string
}

// Plan is what a click writes. Apply it in the transaction that records the click.
type Plan struct {
	click   Click
	record  Record
	steps   []step
	replies int
	// Matched is false when no scenario and no action matched the button.
	Matched bool
}

// step writes one effect in the transaction; it may add replies and notes.
type step func(ctx context.Context, tx pgx.Tx, e *effects) error

type effects struct {
	replies []outbox.Message
	notes   []odoo.Note
}

// Record is what the click was about, when it was about an order or invoice.
func (p *Plan) Record() Record { return p.record }

func (p *Plan) about(model string, id int, name string) {
	if p.record.Model == "" {
		p.record = Record{Model: model, ID: id, Name: name}
	}
}

func (p *Plan) add(s step) { p.steps = append(p.steps, s) }

// reply queues a text answering the click.
func (p *Plan) reply(kind, model string, id int, text string) {
	m := p.message(kind, model, id)
	m.Content = text
	p.add(func(_ context.Context, _ pgx.Tx, e *effects) error {
		e.replies = append(e.replies, m)
		return nil
	})
}

// message is a reply's row: to the customer's number, in their conversation,
// deduplicated on the click's wamid (and its rank among the click's replies).
func (p *Plan) message(kind, model string, id int) outbox.Message {
	p.replies++
	c := p.click.Customer
	if model == "" {
		model, id = "whatsapp.conversation", c.ConversationID
	}
	m := outbox.Message{
		Message:        notify.Message{Phone: c.Phone.E164, ContactName: c.Name(), Kind: kind, ResModel: model, ResID: id},
		ConversationID: c.ConversationID,
		DedupKey:       "in:" + p.click.WaMessageID + ":" + strconv.Itoa(p.replies),
	}
	if c.Account != nil {
		m.ConfigID = c.Account.ConfigID
	}
	if c.Partner != nil {
		m.ContactID = c.Partner.ID
	}
	return m
}

// note posts a chatter note on a record.
func (p *Plan) note(model string, id int, name, text string) {
	if model == "" || id == 0 {
		return
	}
	n := odoo.Note{Model: model, ResID: id, RecordName: name, BodyHTML: "<p>" + odoo.EscapeHTML(text) + "</p>"}
	p.add(func(_ context.Context, _ pgx.Tx, e *effects) error {
		e.notes = append(e.notes, n)
		return nil
	})
}

// Apply writes the plan in tx: the record changes, then the replies (in the order
// the click produced them, which is the order the sender sends them) and the notes.
func (p *Plan) Apply(ctx context.Context, tx pgx.Tx, at time.Time) error {
	var e effects
	for _, s := range p.steps {
		if err := s(ctx, tx, &e); err != nil {
			return err
		}
	}
	if _, err := outbox.Enqueue(ctx, tx, e.replies...); err != nil {
		return err
	}
	return odoo.PostNotes(ctx, tx, e.notes, at)
}

// text renders a catalog text in the customer's account language.
func (c Customer) text(key string, vars texts.Vars) string {
	lang := texts.French
	var override string
	if c.Account != nil {
		lang, override = c.Account.Lang, c.Account.Texts[key]
	}
	return texts.Render(lang, key, override, vars)
}

// Click plans a click: the scenario whose button it is, then the button action(s).
// It returns an error only for what may succeed later (the database or Odoo not
// answering): the caller retries the click.
func (r *Runner) Click(ctx context.Context, c Click) (*Plan, error) {
	p := &Plan{click: c}
	if c.Account == nil || c.ButtonID == "" {
		return p, nil
	}
	scenario, err := r.scenarioStep(ctx, c, p)
	if err != nil {
		return nil, err
	}
	actions, err := r.matchActions(ctx, c.Account.ConfigID, c.ButtonID)
	if err != nil {
		return nil, err
	}
	p.Matched = scenario || len(actions) > 0
	if !p.Matched {
		r.count("none", OutcomeNoMatch)
		r.logger().Info("click with no scenario or button action", "button", c.ButtonID)
	}
	for _, a := range actions {
		if err := r.run(ctx, c, a, p); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Action is a whatsapp_button_action row.
type Action struct {
	ID             int
	Name           string
	ButtonID       string
	MatchMode      string
	Type           string
	Message        string
	ContactField   string
	ContactValue   string
	OdooModel      string
	OdooMethod     string
	CallbackURL    string
	CallbackSecret string
	Sequence       int
}

// candidateActions are the active actions of the account (or of every account) whose
// button_id starts the clicked id; Matches keeps those that match.
const candidateActions = `
SELECT id, name, button_id, COALESCE(match_mode, ''), action_type, COALESCE(message_to_send, ''),
    COALESCE(contact_field_to_update, ''), COALESCE(contact_field_value, ''), COALESCE(odoo_model, ''),
    COALESCE(odoo_method, ''), COALESCE(callback_url, ''), COALESCE(callback_secret, ''), COALESCE(sequence, 10)
FROM whatsapp_button_action
WHERE COALESCE(active, true) AND button_id <> '' AND starts_with($1, button_id)
  AND (config_id IS NULL OR config_id = $2)
ORDER BY COALESCE(sequence, 10), id`

// Matches says whether the clicked id matches the action's button_id: exactly, or
// as a prefix per match_mode (exact, prefix, or empty for the seed's rule: the
// clicked id starts with button_id + "_", or with button_id when it ends with "_").
func (a Action) Matches(clicked string) bool {
	if clicked == a.ButtonID {
		return true
	}
	switch strings.ToLower(strings.TrimSpace(a.MatchMode)) {
	case "exact":
		return false
	case "prefix":
		return strings.HasPrefix(clicked, a.ButtonID)
	}
	return (strings.HasSuffix(a.ButtonID, "_") && strings.HasPrefix(clicked, a.ButtonID)) ||
		strings.HasPrefix(clicked, a.ButtonID+"_")
}

// matchActions returns the actions a click runs: every action with exactly that
// button id, in sequence order; else the one prefix action with the longest
// button id (the most specific), as the seed ran a single prefix match.
func (r *Runner) matchActions(ctx context.Context, configID int, clicked string) ([]Action, error) {
	rows, err := r.Pool.Query(ctx, candidateActions, clicked, configID)
	if err != nil {
		return nil, fmt.Errorf("match button actions: %w", err)
	}
	defer rows.Close()
	var exact []Action
	var best *Action
	for rows.Next() {
		var a Action
		if err := rows.Scan(&a.ID, &a.Name, &a.ButtonID, &a.MatchMode, &a.Type, &a.Message, &a.ContactField,
			&a.ContactValue, &a.OdooModel, &a.OdooMethod, &a.CallbackURL, &a.CallbackSecret, &a.Sequence); err != nil {
			return nil, fmt.Errorf("match button actions: %w", err)
		}
		switch {
		case a.ButtonID == clicked:
			exact = append(exact, a)
		case a.Matches(clicked) && (best == nil || len(a.ButtonID) > len(best.ButtonID)):
			best = &a
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("match button actions: %w", err)
	}
	if len(exact) > 0 || best == nil {
		return exact, nil
	}
	return []Action{*best}, nil
}

// run plans one action.
func (r *Runner) run(ctx context.Context, c Click, a Action, p *Plan) error {
	typ := strings.TrimSpace(a.Type)
	switch typ {
	case TypeSendMessage:
		return r.sendMessage(ctx, c, a, p)
	case TypeUpdateContact, TypeUpdateStatus:
		return r.updateContact(ctx, c, a, p)
	case TypeCreateTicket:
		return r.createTicket(ctx, c, a, p)
	case TypeCustomPython:
		return r.customPython(ctx, c, a, p)
	case TypeValidateOrder:
		return r.orderDecision(ctx, c, a, p, true)
	case TypeCancelOrder:
		return r.orderDecision(ctx, c, a, p, false)
	case TypeOrderDetails:
		return r.orderDetails(ctx, c, a, p)
	case TypeInvoicePDF:
		return r.invoicePDF(ctx, c, a, p)
	case TypePaymentWave:
		return r.payment(ctx, c, a, p, wave)
	case TypePaymentOrange:
		return r.payment(ctx, c, a, p, orange)
	case TypePaymentDetails:
		provider := wave
		if strings.Contains(strings.ToLower(c.ButtonID), "orange") {
			provider = orange
		}
		return r.payment(ctx, c, a, p, provider)
	case TypeOdooMethod:
		return r.odooMethod(ctx, c, a, p)
	case TypeHTTPCallback, TypeCallback:
		return r.callback(ctx, c, a, p)
	}
	r.count(typ, OutcomeNotRun)
	r.logger().Warn("button action of an unknown type not run", "action", a.Name, "type", typ, "button", c.ButtonID)
	return nil
}

// recordID is the record id a clicked button carries after the action's button_id
// (btn_validate_order_ + 26), else after its last underscore; 0 when none.
func recordID(clicked string, a Action) int {
	rest := strings.TrimPrefix(strings.TrimPrefix(clicked, a.ButtonID), "_")
	if id, err := strconv.Atoi(rest); err == nil && id > 0 {
		return id
	}
	if i := strings.LastIndexByte(clicked, '_'); i >= 0 {
		if id, err := strconv.Atoi(clicked[i+1:]); err == nil && id > 0 {
			return id
		}
	}
	return 0
}

// contextRecord is what the message that carried the button was about.
func (r *Runner) contextRecord(ctx context.Context, contextID string) (model string, id int, err error) {
	about, err := outbox.AboutSent(ctx, r.Pool, contextID)
	return about.Model, about.ID, err
}

// latestQueries find a customer's most relevant record when the button carried no
// id (a scenario's static button): the newest quotation to decide on, the newest
// order, the newest unpaid or posted invoice.
var latestQueries = map[string]string{
	"open_order": `SELECT id FROM sale_order WHERE partner_id = $1 AND state IN ('draft', 'sent') ORDER BY id DESC LIMIT 1`,
	"order":      `SELECT id FROM sale_order WHERE partner_id = $1 ORDER BY id DESC LIMIT 1`,
	"unpaid": `SELECT id FROM account_move WHERE partner_id = $1 AND state = 'posted' AND move_type = 'out_invoice'
		AND amount_residual > 0 ORDER BY invoice_date_due NULLS LAST, id LIMIT 1`,
	"invoice": `SELECT id FROM account_move WHERE partner_id = $1 AND state = 'posted'
		AND move_type IN ('out_invoice', 'out_refund') ORDER BY id DESC LIMIT 1`,
}

// resolve finds the record a click is about: the id in the button, else what the
// clicked message was about, else the customer's latest relevant record.
func (r *Runner) resolve(ctx context.Context, c Click, a Action, model, latest string) (int, error) {
	if id := recordID(c.ButtonID, a); id != 0 {
		return id, nil
	}
	m, id, err := r.contextRecord(ctx, c.ContextID)
	if err != nil {
		return 0, err
	}
	if m == model && id != 0 {
		return id, nil
	}
	query, ok := latestQueries[latest]
	if c.Partner == nil || !ok {
		return 0, nil
	}
	err = r.Pool.QueryRow(ctx, query, c.Partner.ID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("find the customer's %s: %w", latest, err)
	}
	return id, nil
}

// owns says whether the customer may act on a record: it belongs to their partner,
// its partner's number is theirs, or the sidecar sent them a message about it. A
// click forged with another order's id gets "not found", like a missing record.
func (r *Runner) owns(ctx context.Context, c Click, model string, id int, partner notify.Partner) (bool, error) {
	if c.Partner != nil && c.Partner.ID == partner.ID {
		return true, nil
	}
	regions := []string{partner.Country, c.Phone.Region}
	if c.Account != nil {
		regions = append(regions, c.Account.DefaultRegion)
	}
	if n, err := phone.Normalize(partner.Number(), regions...); err == nil && n.E164 == c.Phone.E164 {
		return true, nil
	}
	return outbox.SentAbout(ctx, r.Pool, model, id, c.Phone.E164, c.Phone.WaID)
}

// notFound answers a click on a record that does not exist or is not the customer's.
func (r *Runner) notFound(c Click, a Action, p *Plan, model string, id int) {
	r.count(a.Type, OutcomeNotFound)
	r.logger().Warn("click on a record that is missing or not the customer's", "button", c.ButtonID, "model", model, "id", id)
	p.reply("reply_record_not_found", "", 0, c.text("reply_record_not_found", nil))
}

// retryable says whether an Odoo call failed for lack of an answer (Odoo down,
// timeout) rather than because Odoo refused: the click is worth retrying.
func (r *Runner) retryable(c Click, err error) bool {
	if _, refused := errors.AsType[*odooweb.Error](err); refused {
		return false
	}
	maxAttempts := r.MaxAttempts
	if maxAttempts == 0 {
		maxAttempts = 3
	}
	return c.Attempt < maxAttempts
}

// baseVars are the placeholders every reply may use.
func (c Click) baseVars() texts.Vars {
	return texts.Vars{
		"partner_name": c.Name(),
		"phone":        c.Phone.E164,
		"button_id":    c.ButtonID,
		"button_title": c.Title,
	}
}

func merge(vars ...texts.Vars) texts.Vars {
	out := texts.Vars{}
	for _, v := range vars {
		for k, s := range v {
			out[k] = s
		}
	}
	return out
}
