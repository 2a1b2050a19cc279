// Package accounts knows the WhatsApp Business accounts the sidecar sends from: the
// active whatsapp_config rows (one per company: multi-account), each with its
// switches, texts and Cloud API client, filled or overridden by the environment. It
// reloads when a row changes, keeping each client (and its rate limiter) when the
// token and rate did not change.
package accounts

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify/texts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/config"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
)

// Account is one sending number with its business settings.
type Account struct {
	// Settings are what the account decides about its messages' texts and
	// buttons (ConfigID, Lang, Texts, payment buttons).
	notify.Settings

	Name          string
	CompanyID     int // 0: any company
	PhoneNumberID string
	WABAID        string
	AccessToken   config.Secret
	AppSecret     config.Secret
	VerifyToken   config.Secret
	DefaultRegion string // ISO country code tried last when normalising numbers

	AutoSendOrderCreation   bool
	AutoSendOrderState      bool
	AutoSendInvoice         bool
	AutoSendInvoiceResidual bool
	AutoSendUnpaidInvoices  bool
	UnpaidInvoiceDays       int
	ReminderIntervalDays    int
	ReminderMaxCount        int
	RatePerSecond           float64

	OptOutKeywords []string
	OptInKeywords  []string

	Client *whatsapp.Client
}

// Template is an approved template mapped to a notification kind.
type Template struct {
	Name       string
	Language   string
	Components string // JSON as synced from Meta
	Format     string // POSITIONAL or NAMED
}

// Options configure a Registry.
type Options struct {
	// Env overrides the rows' Meta identifiers and secrets where set.
	Env        config.WhatsApp
	HTTPClient *http.Client
	Metrics    *whatsapp.Metrics
	Logger     *slog.Logger
}

// Registry holds the accounts; safe for concurrent use.
type Registry struct {
	opts Options

	mu        sync.RWMutex
	accounts  []*Account
	templates map[templateKey]Template
	clients   map[clientKey]*whatsapp.Client
}

type templateKey struct {
	configID int
	kind     string
}

type clientKey struct {
	token string
	rate  float64
}

// New returns an empty registry; call Load.
func New(opts Options) *Registry {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = whatsapp.NewHTTPClient()
	}
	return &Registry{opts: opts, clients: map[clientKey]*whatsapp.Client{}, templates: map[templateKey]Template{}}
}

// Querier is what Load reads with.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

const activeConfigs = `
SELECT id, name, COALESCE(company_id, 0), COALESCE(phone_number_id, ''), COALESCE(whatsapp_business_account_id, ''),
    COALESCE(access_token, ''), COALESCE(facebook_app_secret, ''), COALESCE(verify_token, ''),
    COALESCE(lang, 'fr'), COALESCE(default_country_code, ''),
    COALESCE(auto_send_order_creation, false), COALESCE(auto_send_order_state, false),
    COALESCE(auto_send_invoice, false), COALESCE(auto_send_invoice_residual, false),
    COALESCE(auto_send_unpaid_invoices, false), COALESCE(unpaid_invoice_days, 7),
    COALESCE(unpaid_reminder_interval_days, 7), COALESCE(unpaid_reminder_max_count, 3),
    COALESCE(rate_limit_per_second, 0),
    COALESCE(payment_wave_enabled, false), COALESCE(payment_wave_text, ''),
    COALESCE(payment_orange_enabled, false), COALESCE(payment_orange_text, ''),
    COALESCE(opt_out_keywords, ''), COALESCE(opt_in_keywords, ''),
    COALESCE(text_order_created, ''), COALESCE(text_order_confirmed, ''), COALESCE(text_order_cancelled, ''),
    COALESCE(text_invoice_posted, ''), COALESCE(text_invoice_residual, ''), COALESCE(text_invoice_paid, ''),
    COALESCE(text_invoice_reminder, '')
FROM whatsapp_config
WHERE is_active
ORDER BY id`

const mappedTemplates = `
SELECT COALESCE(config_id, 0), notification_kind, wa_name, COALESCE(language_code, 'fr'),
    COALESCE(components, ''), COALESCE(parameter_format, 'POSITIONAL')
FROM whatsapp_template
WHERE status = 'APPROVED' AND notification_kind IS NOT NULL AND notification_kind <> ''
ORDER BY config_id NULLS FIRST, id DESC`

// DefaultOptOutKeywords and DefaultOptInKeywords apply when a config sets none.
var (
	DefaultOptOutKeywords = []string{"STOP", "ARRET", "ARRÊT", "DESABONNER", "DÉSABONNER", "UNSUBSCRIBE"}
	DefaultOptInKeywords  = []string{"START", "REPRENDRE", "ABONNER", "SUBSCRIBE"}
)

// Load reads the active configs and mapped templates and replaces the registry's
// content. With no active row, the environment alone makes one account when it names
// a phone number id.
func (r *Registry) Load(ctx context.Context, q Querier) error {
	rows, err := q.Query(ctx, activeConfigs)
	if err != nil {
		return fmt.Errorf("load whatsapp_config: %w", err)
	}
	var accounts []*Account
	for rows.Next() {
		a := &Account{Settings: notify.Settings{Texts: map[string]string{}}}
		var token, secret, verify, lang, optOut, optIn string
		var rate int
		var tOrderCreated, tOrderConfirmed, tOrderCancelled, tInvoicePosted, tInvoiceResidual, tInvoicePaid, tReminder string
		if err := rows.Scan(&a.ConfigID, &a.Name, &a.CompanyID, &a.PhoneNumberID, &a.WABAID, &token, &secret, &verify,
			&lang, &a.DefaultRegion, &a.AutoSendOrderCreation, &a.AutoSendOrderState, &a.AutoSendInvoice,
			&a.AutoSendInvoiceResidual, &a.AutoSendUnpaidInvoices, &a.UnpaidInvoiceDays, &a.ReminderIntervalDays,
			&a.ReminderMaxCount, &rate, &a.PaymentWave, &a.WaveText, &a.PaymentOrange, &a.OrangeText, &optOut, &optIn,
			&tOrderCreated, &tOrderConfirmed, &tOrderCancelled, &tInvoicePosted, &tInvoiceResidual, &tInvoicePaid, &tReminder); err != nil {
			rows.Close()
			return fmt.Errorf("load whatsapp_config: %w", err)
		}
		a.AccessToken, a.AppSecret, a.VerifyToken = config.Secret(token), config.Secret(secret), config.Secret(verify)
		a.Lang = texts.ParseLang(lang)
		a.RatePerSecond = float64(rate)
		a.OptOutKeywords = keywords(optOut, DefaultOptOutKeywords)
		a.OptInKeywords = keywords(optIn, DefaultOptInKeywords)
		for kind, text := range map[string]string{
			"order_created": tOrderCreated, "order_summary": tOrderCreated, "order_confirmed": tOrderConfirmed,
			"order_cancelled": tOrderCancelled, "invoice_posted": tInvoicePosted, "invoice_residual": tInvoiceResidual,
			"invoice_paid": tInvoicePaid, "invoice_reminder": tReminder,
		} {
			if strings.TrimSpace(text) != "" {
				a.Texts[kind] = text
			}
		}
		accounts = append(accounts, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load whatsapp_config: %w", err)
	}
	if len(accounts) == 0 && r.opts.Env.PhoneNumberID != "" {
		accounts = append(accounts, &Account{
			Name: "environment", Settings: notify.Settings{Lang: texts.French, Texts: map[string]string{}, PaymentWave: true, PaymentOrange: true},
			AutoSendOrderCreation: true, AutoSendOrderState: true, AutoSendInvoice: true, AutoSendInvoiceResidual: true,
			UnpaidInvoiceDays: 7, ReminderIntervalDays: 7, ReminderMaxCount: 3,
			OptOutKeywords: DefaultOptOutKeywords, OptInKeywords: DefaultOptInKeywords,
		})
	}

	templates := map[templateKey]Template{}
	trows, err := q.Query(ctx, mappedTemplates)
	if err != nil {
		return fmt.Errorf("load whatsapp_template: %w", err)
	}
	for trows.Next() {
		var configID int
		var kind string
		var t Template
		if err := trows.Scan(&configID, &kind, &t.Name, &t.Language, &t.Components, &t.Format); err != nil {
			trows.Close()
			return fmt.Errorf("load whatsapp_template: %w", err)
		}
		templates[templateKey{configID, kind}] = t
	}
	trows.Close()
	if err := trows.Err(); err != nil {
		return fmt.Errorf("load whatsapp_template: %w", err)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	clients := map[clientKey]*whatsapp.Client{}
	for _, a := range accounts {
		r.applyEnv(a)
		if !a.AccessToken.IsSet() {
			continue
		}
		key := clientKey{a.AccessToken.Reveal(), a.RatePerSecond}
		client := r.clients[key]
		if client == nil {
			client, err = whatsapp.NewClient(whatsapp.Options{
				BaseURL: r.opts.Env.APIURL, AccessToken: a.AccessToken.Reveal(), HTTPClient: r.opts.HTTPClient,
				RatePerSecond: a.RatePerSecond, Metrics: r.opts.Metrics, Logger: r.opts.Logger,
				// The sender keeps its own queue of retries (with attempts recorded
				// on the row); the client retries only briefly on its own.
				Retry: whatsapp.RetryPolicy{MaxAttempts: 2},
			})
			if err != nil {
				return fmt.Errorf("whatsapp_config %d (%s): %w", a.ConfigID, a.Name, err)
			}
		}
		clients[key] = client
		a.Client = client
	}
	r.accounts, r.templates, r.clients = accounts, templates, clients
	return nil
}

// applyEnv lets the environment win over the row (README: "the environment wins").
func (r *Registry) applyEnv(a *Account) {
	env := r.opts.Env
	if env.PhoneNumberID != "" {
		a.PhoneNumberID = env.PhoneNumberID
	}
	if env.WABAID != "" {
		a.WABAID = env.WABAID
	}
	if env.AccessToken.IsSet() {
		a.AccessToken = env.AccessToken
	}
	if env.AppSecret.IsSet() {
		a.AppSecret = env.AppSecret
	}
	if env.VerifyToken.IsSet() {
		a.VerifyToken = env.VerifyToken
	}
}

func keywords(list string, defaults []string) []string {
	var out []string
	for _, k := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ';' || r == '\n' }) {
		if k = strings.ToUpper(strings.TrimSpace(k)); k != "" {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return defaults
	}
	return out
}

// Credentials identifies what the accounts can send with (their numbers and
// tokens): it changes when a token or a number is set, renewed or removed. It is
// compared, never shown.
func (r *Registry) Credentials() string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var b strings.Builder
	for _, a := range r.accounts {
		sum := sha256.Sum256([]byte(a.AccessToken.Reveal()))
		fmt.Fprintf(&b, "%d:%s:%x;", a.ConfigID, a.PhoneNumberID, sum[:8])
	}
	return b.String()
}

// All returns the accounts, in config id order.
func (r *Registry) All() []*Account {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]*Account(nil), r.accounts...)
}

// ForCompany returns the account that sends for companyID: the active config of
// that company, else one with no company; nil when there is none. It never picks
// another company's account.
func (r *Registry) ForCompany(companyID int) *Account {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var anyCompany *Account
	for _, a := range r.accounts {
		if a.CompanyID == companyID && companyID != 0 {
			return a
		}
		if a.CompanyID == 0 && anyCompany == nil {
			anyCompany = a
		}
	}
	return anyCompany
}

// ByConfigID returns the account of a whatsapp_config row, nil when it is not active.
func (r *Registry) ByConfigID(id int) *Account {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, a := range r.accounts {
		if a.ConfigID == id {
			return a
		}
	}
	return nil
}

// ByPhoneNumberID returns the account of a business number (a webhook's
// metadata.phone_number_id), nil when unknown.
func (r *Registry) ByPhoneNumberID(id string) *Account {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, a := range r.accounts {
		if a.PhoneNumberID == id {
			return a
		}
	}
	return nil
}

// Template returns the approved template mapped to kind for an account: the
// account's own, else one shared by all accounts.
func (r *Registry) Template(configID int, kind string) (Template, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if t, ok := r.templates[templateKey{configID, kind}]; ok {
		return t, true
	}
	t, ok := r.templates[templateKey{0, kind}]
	return t, ok
}
