package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sethvargo/go-envconfig"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/accounts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/install"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/install/migrate"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/invoicepdf"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/odooapp"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/odooweb"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/config"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/listen"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/logging"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/metrics"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/ops"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/server"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/outbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/webhook"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/actions"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/compose"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/inbound"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/reminder"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/send"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/templates"
)

// listening, when set (by tests), learns each listener's bound address.
var listening func(name, addr string)

func runSidecar(ctx context.Context, args []string, env envconfig.Lookuper, stdout, stderr io.Writer) error {
	fs := newFlags("run", stderr)
	autoMigrate := fs.Bool("migrate", false, "apply pending migrations before starting (as `whatsapp-sidecar migrate` would)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(ctx, env)
	if err != nil {
		return err
	}
	level, _ := config.ParseLevel(cfg.LogLevel)
	logger := logging.New(stderr, level, cfg.LogFormat)
	d, err := startDaemon(ctx, cfg, logger, *autoMigrate)
	if err != nil {
		return err
	}
	<-ctx.Done()
	return d.stop(context.WithoutCancel(ctx))
}

// daemon is a running sidecar: its listeners and the components they feed.
type daemon struct {
	cfg      *config.Config
	logger   *slog.Logger
	pool     *pgxpool.Pool
	accounts *accounts.Registry
	// emu is the built-in Cloud API emulator, in sandbox mode only.
	emu *emulator.Server
	reg *metrics.Registry

	webhook, ops *server.Server
	cancel       context.CancelFunc // stops the components
	wg           sync.WaitGroup
}

// sandbox credentials: the built-in emulator accepts nothing else, and they are
// never valid at Meta.
const (
	sandboxToken  = "sandbox-access-token"
	sandboxSecret = "sandbox-app-secret"
	sandboxVerify = "sandbox-verify-token"
)

func startDaemon(ctx context.Context, cfg *config.Config, logger *slog.Logger, autoMigrate bool) (*daemon, error) {
	logger.Info("starting", "version", fullVersion())
	pool, err := openPool(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	d := &daemon{cfg: cfg, logger: logger, pool: pool}
	ok := false
	defer func() {
		if !ok {
			d.shutdownListeners(context.WithoutCancel(ctx))
			pool.Close()
		}
	}()
	if err := checkSchema(ctx, pool, autoMigrate, logger); err != nil {
		return nil, err
	}
	d.checkOdooApp(ctx)

	reg := metrics.NewRegistry(version)
	d.reg = reg
	reg.MustRegister(outbox.NewCollector(pool))
	apiMetrics := whatsapp.NewMetrics(reg)

	webhookMux := http.NewServeMux()
	webhookMux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "whatsapp-sidecar")
	})
	if d.webhook, err = server.Listen(cfg.WebhookAddr, "webhook", webhookMux, logger); err != nil {
		return nil, err
	}

	env := cfg.WhatsApp
	isSandbox, err := sandbox(ctx, cfg, pool)
	if err != nil {
		return nil, err
	}
	if isSandbox {
		if err := d.startSandbox(ctx, &env); err != nil {
			return nil, err
		}
	}
	d.accounts = accounts.New(accounts.Options{Env: env, Metrics: apiMetrics, Logger: logger})
	if err := d.accounts.Load(ctx, pool); err != nil {
		return nil, err
	}
	for _, a := range d.accounts.All() {
		logger.Info("WhatsApp account", "config", a.Name, "company", a.CompanyID, "phone_number_id", a.PhoneNumberID,
			"order_created", a.AutoSendOrderCreation, "reminders", a.AutoSendUnpaidInvoices)
	}

	var pdfs invoicepdf.Source
	pdfs.DataDir, pdfs.Logger = cfg.Odoo.DataDir, logger

	var odooClient *odooweb.Client
	if cfg.Odoo.URL != "" {
		odooClient = &odooweb.Client{URL: cfg.Odoo.URL, DB: cfg.Odoo.DB, User: cfg.Odoo.User, Password: cfg.Odoo.Password.Reveal()}
	}
	pdfs.Odoo = odooClient

	eventBell, messageBell, configBell, inboxBell := listen.NewBell(), listen.NewBell(), listen.NewBell(), listen.NewBell()
	webhookMux.Handle(webhook.Path, &webhook.Handler{
		Inbox:   &webhook.PoolInbox{Pool: pool},
		Secrets: webhook.AccountSecrets{Accounts: d.accounts, Env: env},
		Bell:    inboxBell,
		Metrics: webhook.NewMetrics(reg),
		Logger:  logger,
	})
	listener := &listen.Listener{
		Connect: func(ctx context.Context) (*pgx.Conn, error) { return pgx.Connect(ctx, cfg.DatabaseURL.Reveal()) },
		Logger:  logger,
	}
	listener.Subscribe(listen.TopicEvent, eventBell)
	listener.Subscribe(listen.TopicMessage, messageBell)
	listener.Subscribe(listen.TopicConfig, configBell)
	listener.Subscribe(listen.TopicInbox, inboxBell)

	composer := &compose.Composer{Pool: pool, Accounts: d.accounts, Logger: logger, Metrics: compose.NewMetrics(reg), Bell: eventBell}
	sender := &send.Sender{Pool: pool, Accounts: d.accounts, PDFs: &pdfs, DataDir: cfg.Odoo.DataDir, Logger: logger, Metrics: send.NewMetrics(reg), Bell: messageBell,
		Lease: cfg.SendLease}
	processor := &inbound.Processor{Pool: pool, Accounts: d.accounts, Logger: logger, Metrics: inbound.NewMetrics(reg), Bell: inboxBell,
		Actions: &actions.Runner{Pool: pool, Odoo: odooClient, Logger: logger, Metrics: actions.NewMetrics(reg)}}
	reminders := &reminder.Scheduler{Pool: pool, Accounts: d.accounts, Logger: logger}
	templateBell := listen.NewBell()
	syncer := &templates.Syncer{Pool: pool, Accounts: d.accounts, Logger: logger, Bell: templateBell,
		OnSync: func(ctx context.Context) { d.reloadAccounts(ctx) }}

	if d.ops, err = server.Listen(cfg.MetricsAddr, "metrics", ops.Handler(reg.Registry,
		ops.Check{Name: "database", Func: func(ctx context.Context) error { return pool.Ping(ctx) }},
		ops.Check{Name: "schema", Func: func(ctx context.Context) error { return schemaCurrent(ctx, pool) }},
		ops.Check{Name: "listener", Func: func(context.Context) error { return ready(listener.Ready()) }},
	), logger); err != nil {
		return nil, err
	}

	work, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.cancel = cancel
	d.goRun(work, "listener", listener.Run)
	d.goRun(work, "composer", composer.Run)
	d.goRun(work, "sender", sender.Run)
	d.goRun(work, "inbox", processor.Run)
	d.goRun(work, "reminders", reminders.Run)
	d.goRun(work, "templates", syncer.Run)
	d.goRun(work, "config", func(ctx context.Context) error {
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-configBell:
				d.reloadAccounts(ctx)
				d.syncBindings(ctx)
				templateBell.Ring()
			}
		}
	})
	select {
	case <-listener.Ready():
	case <-time.After(10 * time.Second):
		logger.Warn("LISTEN not in place after 10s: relying on polling until it is")
	case <-ctx.Done():
	}
	if listening != nil {
		listening("metrics", d.ops.Addr())
		listening("webhook", d.webhook.Addr())
	}
	ok = true
	return d, nil
}

// sandbox says whether no Meta credentials exist anywhere: then the sidecar talks
// to its built-in emulator, and nothing leaves the machine.
func sandbox(ctx context.Context, cfg *config.Config, pool *pgxpool.Pool) (bool, error) {
	if cfg.WhatsApp.AccessToken.IsSet() {
		return false, nil
	}
	var hasToken bool
	err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM whatsapp_config WHERE is_active AND COALESCE(access_token, '') <> '')`).Scan(&hasToken)
	if err != nil {
		return false, fmt.Errorf("read whatsapp_config: %w", err)
	}
	return !hasToken, nil
}

// startSandbox starts the emulator and points env (the overrides of every account)
// at it, with its credentials; status and inbound webhooks come back to our own
// webhook listener, signed.
func (d *daemon) startSandbox(ctx context.Context, env *config.WhatsApp) error {
	phoneNumberID := env.PhoneNumberID
	if phoneNumberID == "" {
		phoneNumberID = emulator.DefaultPhoneNumberID
	}
	d.emu = emulator.New(emulator.Config{
		AccessToken: sandboxToken, AppSecret: sandboxSecret, PhoneNumberID: phoneNumberID,
		WebhookURL: "http://" + d.webhook.Addr() + "/whatsapp/webhook",
		Knobs:      emulator.Knobs{StatusDelay: 300 * time.Millisecond, WebhookMaxAttempts: 5, WebhookRetryDelay: time.Second},
		Logger:     d.logger.With("component", "emulator"),
	})
	if err := d.emu.Start(ctx, "127.0.0.1:0"); err != nil {
		return err
	}
	env.APIURL = d.emu.BaseURL()
	env.AccessToken, env.AppSecret, env.VerifyToken = sandboxToken, sandboxSecret, sandboxVerify
	env.PhoneNumberID = phoneNumberID
	if env.WABAID == "" {
		env.WABAID = emulator.DefaultWABAID
	}
	d.logger.Warn("SANDBOX: no WhatsApp access token is configured (WHATSAPP_ACCESS_TOKEN or whatsapp_config.access_token); "+
		"messages go to the built-in Cloud API emulator and never reach a phone", "emulator", d.emu.URL())
	return nil
}

// checkOdooApp repairs the sidecar's screens in Odoo (a user deleted a menu) or
// warns about what it cannot repair (a user deleted a model, and its table).
func (d *daemon) checkOdooApp(ctx context.Context) {
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		d.logger.Warn("checking the WhatsApp app in Odoo", "err", err)
		return
	}
	defer conn.Release()
	repaired, warnings, err := odooapp.Check(ctx, conn.Conn())
	if err != nil {
		d.logger.Warn("checking the WhatsApp app in Odoo", "err", err)
		return
	}
	for _, line := range repaired {
		d.logger.Info("Odoo app repaired", "what", line)
	}
	for _, line := range warnings {
		d.logger.Warn("Odoo app", "problem", line)
	}
}

// syncBindings shows or hides the "Envoyer par WhatsApp" actions in Odoo as the
// configs' show_button_in_* switches say.
func (d *daemon) syncBindings(ctx context.Context) {
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		d.logger.Warn("updating the WhatsApp buttons in Odoo", "err", err)
		return
	}
	defer conn.Release()
	lines, err := odooapp.SyncBindings(ctx, conn.Conn())
	if err != nil {
		d.logger.Warn("updating the WhatsApp buttons in Odoo", "err", err)
		return
	}
	for _, line := range lines {
		d.logger.Info(line)
	}
}

func (d *daemon) reloadAccounts(ctx context.Context) {
	if err := d.accounts.Load(ctx, d.pool); err != nil {
		d.logger.Warn("reloading whatsapp_config", "err", err)
		return
	}
	d.logger.Info("WhatsApp configuration reloaded", "accounts", len(d.accounts.All()))
}

func ready(ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	default:
		return errors.New("not listening yet")
	}
}

// goRun runs a component until the daemon stops; a component that fails is logged
// and restarted after a pause, so one bad moment does not stop the others.
func (d *daemon) goRun(ctx context.Context, name string, run func(context.Context) error) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		for {
			err := run(ctx)
			if ctx.Err() != nil {
				return
			}
			d.logger.Error("component stopped, restarting", "component", name, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Second):
			}
		}
	}()
}

// stop shuts down gracefully within SHUTDOWN_TIMEOUT: the public listener first
// (Meta retries what it could not deliver), then the components (the sender
// finishes the sends under way and records them), the ops listener last so
// /metrics and /healthz answer while the rest drains.
func (d *daemon) stop(ctx context.Context) error {
	d.logger.Info("stopping", "timeout", d.cfg.ShutdownTimeout)
	ctx, cancel := context.WithTimeout(ctx, d.cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	if d.webhook != nil {
		errs = append(errs, d.webhook.Shutdown(ctx))
	}
	d.cancel()
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, errors.New("shutdown timeout: sends still under way keep their lease and are settled after restart"))
	}
	if d.emu != nil {
		errs = append(errs, d.emu.Close(ctx))
	}
	if d.ops != nil {
		errs = append(errs, d.ops.Shutdown(ctx))
	}
	d.pool.Close()
	d.logger.Info("stopped")
	return errors.Join(errs...)
}

func (d *daemon) shutdownListeners(ctx context.Context) {
	for _, s := range []*server.Server{d.webhook, d.ops} {
		if s != nil {
			_ = s.Shutdown(ctx)
		}
	}
	if d.emu != nil {
		_ = d.emu.Close(ctx)
	}
}

// openPool connects to Odoo's database, waiting for it (with a growing delay) when it
// is not up yet, as after a host reboot where the sidecar starts first.
func openPool(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*pgxpool.Pool, error) {
	poolCfg, err := pgxpool.ParseConfig(cfg.DatabaseURL.Reveal())
	if err != nil {
		return nil, errors.New("DATABASE_URL: not a valid PostgreSQL connection string")
	}
	poolCfg.ConnConfig.RuntimeParams["application_name"] = "whatsapp-sidecar"
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

func checkSchema(ctx context.Context, pool *pgxpool.Pool, autoMigrate bool, logger *slog.Logger) error {
	if autoMigrate {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		defer conn.Release()
		report, err := install.Migrate(ctx, conn.Conn())
		for _, line := range report {
			logger.Info(line)
		}
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		return nil
	}
	return schemaCurrent(ctx, pool)
}

func schemaCurrent(ctx context.Context, pool *pgxpool.Pool) error {
	v, err := migrate.Version(ctx, pool)
	if err != nil {
		return err
	}
	switch latest := migrate.Latest(); {
	case v == 0:
		return errors.New("the sidecar is not installed in this database: run `whatsapp-sidecar migrate` (or `run --migrate`)")
	case v < latest:
		return fmt.Errorf("database schema at version %d, this binary needs %d: run `whatsapp-sidecar migrate`", v, latest)
	case v > latest:
		return fmt.Errorf("database schema at version %d is newer than this binary (%d): upgrade the binary", v, latest)
	}
	return nil
}
