package sidecar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/accounts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/install"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/invoicepdf"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/odooapp"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/odooweb"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/config"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/listen"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/metrics"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/ops"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/server"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/events"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/inbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/outbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/sandbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/webhook"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/actions"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/compose"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/discuss"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/inbound"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/reminder"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/send"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/templates"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/writeback"
)

// Options configure a Daemon. Config is required; the zero value of every other
// field means its default.
type Options struct {
	Config *config.Config
	// Logger receives the daemon's logs; nil discards them.
	Logger *slog.Logger
	// Version labels the build in logs and in whatsapp_sidecar_build_info.
	Version string
	// Migrate applies pending migrations at Start (`run --migrate`) instead of
	// refusing a database whose schema is not current.
	Migrate bool
	// Sandbox talks to the built-in Cloud API emulator instead of Meta, whatever
	// credentials exist (`run --sandbox`, `demo`); Config.Sandbox does the same.
	Sandbox bool
	// Listeners already bound, by name ("webhook", "metrics"), serve instead of
	// binding WEBHOOK_ADDR or METRICS_ADDR: systemd socket activation, or a test
	// that must keep one port across restarts. The daemon closes them on Stop.
	Listeners map[string]net.Listener
}

// Daemon is a running sidecar. Its methods are safe to call from several
// goroutines; Stop and StopAndCancel may be called more than once.
type Daemon struct {
	opts   Options
	cfg    *config.Config
	logger *slog.Logger

	pool     *pgxpool.Pool
	reg      *metrics.Registry
	accounts *accounts.Registry
	listener *listen.Listener
	emu      *emulator.Server // the sandbox's emulator; nil otherwise
	page     *sandbox.Server  // the sandbox's phone page; nil otherwise
	webhook  *server.Server
	ops      *server.Server

	components []component
	supervisor *supervisor
	ready      chan struct{}

	stopOnce sync.Once
	stopErr  error
}

// New checks opts and returns a daemon ready to Start.
func New(opts Options) (*Daemon, error) {
	if opts.Config == nil {
		return nil, errors.New("sidecar: Options.Config is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	for name := range opts.Listeners {
		if name != webhookListener && name != metricsListener {
			return nil, fmt.Errorf("sidecar: a listening socket named %q was passed (socket activation's FileDescriptorName=); the sidecar serves %q and %q",
				name, webhookListener, metricsListener)
		}
	}
	return &Daemon{opts: opts, cfg: opts.Config, logger: opts.Logger, ready: make(chan struct{})}, nil
}

// Start connects, checks the schema, binds the listeners and starts the
// components, then returns; ctx bounds only the start itself. On error everything
// started is stopped again.
func (d *Daemon) Start(ctx context.Context) (err error) {
	d.logger.Info("starting", "version", d.opts.Version)
	if d.pool, err = openPool(ctx, d.cfg, d.logger); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			d.closeListeners(context.WithoutCancel(ctx))
			d.pool.Close()
		}
	}()
	if err := d.checkSchema(ctx); err != nil {
		return err
	}
	d.checkOdooApp(ctx)

	d.reg = metrics.NewRegistry(d.opts.Version)
	d.reg.MustRegister(metrics.Combine(events.NewCollector(d.pool), outbox.NewCollector(d.pool), inbox.NewCollector(d.pool)))
	apiMetrics := whatsapp.NewMetrics(d.reg)

	// The webhook listener is bound first: in sandbox the emulator needs its
	// address. Deliveries arriving before the handler is mounted get a 503, which
	// Meta retries.
	webhookMux := &lateMux{}
	if d.webhook, err = d.listen(webhookListener, d.cfg.WebhookAddr, webhookMux); err != nil {
		return err
	}
	env := d.cfg.WhatsApp
	if d.opts.Sandbox || d.cfg.Sandbox {
		if err := d.startSandbox(ctx, &env); err != nil {
			return err
		}
	}
	d.accounts = accounts.New(accounts.Options{Env: env, Metrics: apiMetrics, Logger: d.logger})
	if err := d.accounts.Load(ctx, d.pool); err != nil {
		return err
	}
	d.logAccounts()

	pdfs := &invoicepdf.Source{DataDir: d.cfg.Odoo.DataDir, Logger: d.logger, MaxConcurrentReports: d.cfg.Odoo.MaxConcurrentReports}
	var odooClient *odooweb.Client
	if d.cfg.Odoo.URL != "" {
		odooClient = &odooweb.Client{URL: d.cfg.Odoo.URL, DB: d.cfg.Odoo.DB, User: d.cfg.Odoo.User, Password: d.cfg.Odoo.Password.Reveal()}
		pdfs.Odoo = odooClient
	}

	eventBell, messageBell, configBell, inboxBell, templateBell, recordedBell :=
		listen.NewBell(), listen.NewBell(), listen.NewBell(), listen.NewBell(), listen.NewBell(), listen.NewBell()
	d.listener = &listen.Listener{
		Connect: func(ctx context.Context) (*pgx.Conn, error) {
			return pgx.ConnectConfig(ctx, d.pool.Config().ConnConfig.Copy()) // named whatsapp-sidecar, like the pool
		},
		Logger: d.logger,
	}
	d.listener.Subscribe(listen.TopicEvent, eventBell)
	d.listener.Subscribe(listen.TopicMessage, messageBell)
	d.listener.Subscribe(listen.TopicConfig, configBell)
	d.listener.Subscribe(listen.TopicInbox, inboxBell)
	discussBell := listen.NewBell()
	d.listener.Subscribe(listen.TopicDiscuss, discussBell)

	webhookMux.set(webhookHandler(&webhook.Handler{
		Inbox:   &webhook.PoolInbox{Pool: d.pool},
		Secrets: webhook.AccountSecrets{Accounts: d.accounts, Env: env},
		Bell:    inboxBell,
		Metrics: webhook.NewMetrics(d.reg),
		Logger:  d.logger,
	}))

	panics := d.reg.Panics()
	composer := &compose.Composer{Pool: d.pool, Accounts: d.accounts, Logger: d.logger, Metrics: compose.NewMetrics(d.reg), Bell: eventBell,
		Panics: panics.WithLabelValues("composer")}
	sender := &send.Sender{Pool: d.pool, Accounts: d.accounts, PDFs: pdfs, DataDir: d.cfg.Odoo.DataDir, Logger: d.logger,
		Metrics: send.NewMetrics(d.reg), Bell: messageBell, Recorded: recordedBell, Panics: panics.WithLabelValues("sender"),
		Unknown: outbox.UnknownPolicy{ResendAfter: d.cfg.UnknownResendAfter.Duration()}, SendTimeout: d.cfg.SendTimeout}
	writer := &writeback.Writer{Pool: d.pool, Logger: d.logger, Bell: recordedBell}
	processor := &inbound.Processor{Pool: d.pool, Accounts: d.accounts, Logger: d.logger, Metrics: inbound.NewMetrics(d.reg), Bell: inboxBell,
		Panics: panics.WithLabelValues("inbox"),
		Actions: &actions.Runner{Pool: d.pool, Odoo: odooClient, Logger: d.logger, Metrics: actions.NewMetrics(d.reg),
			AllowPrivateCallbacks: d.cfg.AllowPrivateCallbacks}}
	inboxDiscuss := &discuss.Worker{Pool: d.pool, Accounts: d.accounts, Logger: d.logger, Bell: discussBell,
		Metrics: discuss.NewMetrics(d.reg)}
	reminders := &reminder.Scheduler{Pool: d.pool, Accounts: d.accounts, Logger: d.logger}
	syncer := &templates.Syncer{Pool: d.pool, Accounts: d.accounts, Logger: d.logger, Bell: templateBell,
		OnSync: func(ctx context.Context) { d.reloadAccounts(ctx) }}

	opsHandler := ops.Handler(d.reg.Registry, d.logger, d.readinessChecks()...)
	if d.cfg.DebugPprof {
		opsHandler = ops.WithProfiling(opsHandler)
	}
	if d.ops, err = d.listen(metricsListener, d.cfg.MetricsAddr, opsHandler); err != nil {
		return err
	}

	d.components = []component{
		{"listener", fetchOnly(d.listener.Run)},
		{"composer", fetchOnly(composer.Run)},
		{"sender", sender.Run},
		{"writeback", fetchOnly(writer.Run)},
		{"inbox", processor.Run},
		{"reminders", fetchOnly(reminders.Run)},
		{"templates", fetchOnly(syncer.Run)},
		{"config", fetchOnly(func(ctx context.Context) error {
			return d.reloadOnChange(ctx, configBell, templateBell, messageBell)
		})},
	}
	if d.cfg.DiscussInbox {
		d.components = append(d.components, component{"discuss", fetchOnly(inboxDiscuss.Run)})
	}
	d.supervisor = newSupervisor(d.logger, d.reg)
	for _, c := range d.components {
		d.supervisor.start(c)
	}
	go d.waitListening(ctx)
	return nil
}

// waitListening closes Ready once LISTEN is in place; until then the components
// poll, so a slow LISTEN delays nothing but is worth a warning.
func (d *Daemon) waitListening(ctx context.Context) {
	select {
	case <-d.listener.Ready():
		close(d.ready)
	case <-time.After(10 * time.Second):
		d.logger.Warn("LISTEN not in place after 10s: relying on polling until it is")
		select {
		case <-d.listener.Ready():
			close(d.ready)
		case <-d.supervisor.stopped():
		}
	case <-d.supervisor.stopped():
	}
}

// Ready is closed once the daemon listens for Odoo's changes (changes made before
// are picked up too: the backlog is read after every LISTEN).
func (d *Daemon) Ready() <-chan struct{} { return d.ready }

// Stop stops gracefully: the webhook listener first (Meta retries what it could not
// deliver), then the components stop taking work and finish what is under way; past
// the deadline (ctx's, or SHUTDOWN_TIMEOUT from now, whichever is first) what still
// runs is cancelled. It returns once every component has returned and the pool is
// closed, with an error saying what was cut short.
func (d *Daemon) Stop(ctx context.Context) error {
	return d.stop(ctx, false)
}

// StopAndCancel stops at once: work under way is cancelled (a send in flight is
// left to reconciliation by Meta's status webhook), then everything is closed.
func (d *Daemon) StopAndCancel(ctx context.Context) error {
	return d.stop(ctx, true)
}

func (d *Daemon) stop(ctx context.Context, cancelNow bool) error {
	d.stopOnce.Do(func() {
		d.logger.Info("stopping", "timeout", d.cfg.ShutdownTimeout, "cancel", cancelNow)
		ctx, cancel := context.WithTimeout(ctx, d.cfg.ShutdownTimeout)
		defer cancel()
		var errs []error
		if d.webhook != nil {
			errs = append(errs, d.webhook.Shutdown(ctx))
		}
		if d.supervisor != nil {
			if cancelNow {
				d.supervisor.cancelWork()
			}
			if err := d.supervisor.stop(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		d.closeListeners(ctx)
		d.pool.Close()
		d.logger.Info("stopped")
		d.stopErr = errors.Join(errs...)
	})
	return d.stopErr
}

// closeListeners stops the sandbox page, the emulator and the ops listener, last, so /metrics and
// /healthz answer while the rest drains.
func (d *Daemon) closeListeners(ctx context.Context) {
	if d.webhook != nil {
		_ = d.webhook.Shutdown(ctx)
	}
	if d.page != nil {
		_ = d.page.Close(ctx)
	}
	if d.emu != nil {
		_ = d.emu.Close(ctx)
	}
	if d.ops != nil {
		_ = d.ops.Shutdown(ctx)
	}
}

// The names of the daemon's listeners in Options.Listeners and in logs.
const (
	webhookListener = "webhook"
	metricsListener = "metrics"
)

// listen serves handler on the listener passed under name, or else binds addr.
func (d *Daemon) listen(name, addr string, handler http.Handler) (*server.Server, error) {
	if ln, ok := d.opts.Listeners[name]; ok {
		return server.Serve(ln, name, handler, d.logger), nil
	}
	return server.Listen(addr, name, handler, d.logger)
}

// WebhookAddr is the bound address of the public webhook listener.
func (d *Daemon) WebhookAddr() string { return d.webhook.Addr() }

// MetricsAddr is the bound address of the ops listener (/metrics, /healthz, /readyz).
func (d *Daemon) MetricsAddr() string { return d.ops.Addr() }

// Pool is the daemon's pool on Odoo's database.
func (d *Daemon) Pool() *pgxpool.Pool { return d.pool }

// Emulator is the sandbox's Cloud API emulator, nil outside sandbox mode.
func (d *Daemon) Emulator() *emulator.Server { return d.emu }

// Metrics is the daemon's Prometheus registry.
func (d *Daemon) Metrics() *metrics.Registry { return d.reg }

func (d *Daemon) logAccounts() {
	for _, a := range d.accounts.All() {
		d.logger.Info("WhatsApp account", "config", a.Name, "company", a.CompanyID, "phone_number_id", a.PhoneNumberID,
			"order_created", a.AutoSendOrderCreation, "reminders", a.AutoSendUnpaidInvoices)
	}
	if d.emu == nil && !d.canSend() {
		d.logger.Warn("no WhatsApp access token: messages stay queued until one is set " +
			"(WHATSAPP_ACCESS_TOKEN, or the access token of the configuration in WhatsApp > Configuration); " +
			"to try the sidecar without a Meta account, run it with --sandbox")
	}
}

// canSend says whether at least one account has credentials.
func (d *Daemon) canSend() bool {
	for _, a := range d.accounts.All() {
		if a.Client != nil && a.PhoneNumberID != "" {
			return true
		}
	}
	return false
}

func (d *Daemon) readinessChecks() []ops.Check {
	return []ops.Check{
		{Name: "database", Func: func(ctx context.Context) error {
			if err := d.pool.Ping(ctx); err != nil {
				d.logger.Warn("readiness: database", "err", err)
				return ops.NotReady("the database does not answer")
			}
			return nil
		}},
		{Name: "schema", Func: func(ctx context.Context) error {
			err := install.Current(ctx, d.pool)
			if stale, ok := errors.AsType[*install.StaleError](err); ok {
				return ops.NotReady(stale.Error())
			}
			return err
		}},
		{Name: "listener", Func: func(context.Context) error {
			if !d.listener.Listening() {
				return ops.NotReady("LISTEN is not in place (database connection lost?): changes are picked up by polling only")
			}
			return nil
		}},
		{Name: "whatsapp", Func: func(context.Context) error {
			if d.emu == nil && !d.canSend() {
				return ops.NotReady("no WhatsApp access token (WHATSAPP_ACCESS_TOKEN or whatsapp_config.access_token): messages stay queued")
			}
			return nil
		}},
	}
}

// reloadOnChange reloads the accounts whenever a whatsapp_config row changes, then
// shows or hides the Odoo buttons and asks for a template sync if one is requested.
// Messages that waited for the configuration (no token yet, a refused token) are
// sent at once.
func (d *Daemon) reloadOnChange(ctx context.Context, configBell, templateBell, messageBell listen.Bell) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-configBell:
			before := d.accounts.Credentials()
			d.reloadAccounts(ctx)
			d.syncBindings(ctx)
			templateBell.Ring()
			if d.accounts.Credentials() == before {
				continue // a ring with nothing new to send with (the listener rings at every LISTEN)
			}
			if n, err := outbox.WakeWaiting(ctx, d.pool, send.ConfigReasons...); err != nil {
				d.logger.Warn("waking the messages that waited for the configuration", "err", err)
			} else if n > 0 {
				d.logger.Info("messages that waited for the configuration are sent now", "messages", n)
				messageBell.Ring()
			}
		}
	}
}

func (d *Daemon) reloadAccounts(ctx context.Context) {
	if err := d.accounts.Load(ctx, d.pool); err != nil {
		d.logger.Warn("reloading whatsapp_config", "err", err)
		return
	}
	d.logger.Info("WhatsApp configuration reloaded", "accounts", len(d.accounts.All()))
}

// checkOdooApp repairs the sidecar's screens in Odoo (a user deleted a menu) or
// warns about what it cannot repair (a user deleted a model, and its table).
func (d *Daemon) checkOdooApp(ctx context.Context) {
	err := d.pool.AcquireFunc(ctx, func(conn *pgxpool.Conn) error {
		repaired, warnings, err := odooapp.Check(ctx, conn.Conn())
		for _, line := range repaired {
			d.logger.Info("Odoo app repaired", "what", line)
		}
		for _, line := range warnings {
			d.logger.Warn("Odoo app", "problem", line)
		}
		return err
	})
	if err != nil {
		d.logger.Warn("checking the WhatsApp app in Odoo", "err", err)
	}
}

// syncBindings shows or hides the "Envoyer par WhatsApp" actions in Odoo as the
// configs' show_button_in_* switches say.
func (d *Daemon) syncBindings(ctx context.Context) {
	err := d.pool.AcquireFunc(ctx, func(conn *pgxpool.Conn) error {
		lines, err := odooapp.SyncBindings(ctx, conn.Conn())
		for _, line := range lines {
			d.logger.Info(line)
		}
		return err
	})
	if err != nil {
		d.logger.Warn("updating the WhatsApp buttons in Odoo", "err", err)
	}
}

// checkSchema refuses a database whose schema is not current, or migrates it.
func (d *Daemon) checkSchema(ctx context.Context) error {
	if !d.opts.Migrate {
		return install.Current(ctx, d.pool)
	}
	return d.pool.AcquireFunc(ctx, func(conn *pgxpool.Conn) error {
		report, err := install.Migrate(ctx, conn.Conn())
		for _, line := range report {
			d.logger.Info(line)
		}
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		return nil
	})
}

// defaultPoolConns is the pool's size unless DATABASE_URL sets pool_max_conns.
// pgxpool's own default, the number of CPUs (4 at least), makes the webhook's
// inserts, the inbox processor, the sender's records, the composer, the
// write-back and Discuss queue for 4 connections: measured with the closed-loop
// load on 2 CPUs, commit -> request p50 at 200 events/s went 385 -> 105 ms and
// statuses applied 355 -> 512/s with 16.
const defaultPoolConns = 16

// openPool connects to Odoo's database, waiting for it (with a growing delay) when it
// is not up yet, as after a host reboot where the sidecar starts first.
func openPool(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*pgxpool.Pool, error) {
	poolCfg, err := pgxpool.ParseConfig(cfg.DatabaseURL.Reveal())
	if err != nil {
		return nil, errors.New("DATABASE_URL: not a valid PostgreSQL connection string")
	}
	poolCfg.ConnConfig.RuntimeParams["application_name"] = "whatsapp-sidecar"
	if !strings.Contains(cfg.DatabaseURL.Reveal(), "pool_max_conns") {
		poolCfg.MaxConns = defaultPoolConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	delay := time.Second
	for {
		err := pool.Ping(ctx)
		if err == nil {
			return pool, nil
		}
		logger.Warn("database not reachable, retrying", "err", err, "in", delay)
		select {
		case <-ctx.Done():
			pool.Close()
			return nil, fmt.Errorf("connect to database: %w", err)
		case <-time.After(delay):
		}
		delay = min(delay*2, 30*time.Second)
	}
}

// webhookHandler is the public listener's routes: Meta's webhook, and a plain
// answer at the root for load balancers' health checks.
func webhookHandler(h *webhook.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "whatsapp-sidecar")
	})
	h.Handle(mux)
	return mux
}

// lateMux is a handler set once the listener is bound; before that it answers 503.
type lateMux struct {
	mu sync.RWMutex
	h  http.Handler
}

func (m *lateMux) set(h http.Handler) {
	m.mu.Lock()
	m.h = h
	m.mu.Unlock()
}

func (m *lateMux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.RLock()
	h := m.h
	m.mu.RUnlock()
	if h == nil {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	h.ServeHTTP(w, r)
}
