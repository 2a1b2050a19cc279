// Package loadgen proves the pipeline under load: it builds an Odoo 16 database,
// starts the Cloud API emulator with a chosen latency and a real `whatsapp-sidecar
// run` process against both, then commits orders the way Odoo's ORM does and times
// the closed loop: what reaches the emulator (throughput on one number and across
// numbers, commit-to-request latency at a steady rate), the status webhooks the
// emulator posts back for every message and how soon their rows show them, the
// customers who answer, the sidecar's memory, CPU and database commits per
// message, the same orders sent the seed module's way (one at a time,
// synchronously) for comparison, and a reference commit rate of the same server in
// the same run, so figures from two machines can be compared.
package loadgen

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/odoosim"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgdump"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/install"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
)

// Config is one load run.
type Config struct {
	AdminURL string        // PostgreSQL server, a superuser (the database is created)
	Database string        // name of the database created; default whatsapp_sidecar_load
	DumpDir  string        // testdata/odoo16
	Binary   string        // the whatsapp-sidecar executable to run
	Orders   int           // orders per throughput phase
	Numbers  int           // business numbers for the across-numbers phase
	Latency  time.Duration // emulated Meta latency
	Rate     float64       // events/s of the latency phase
	Duration time.Duration // length of the latency phase
	Sync     int           // orders sent the seed's way (0: skip)
	// OpenLoop turns the status webhooks and the customers' answers off: sends only,
	// as the tool measured before the closed loop.
	OpenLoop bool
	// StatusDelay separates acceptance, sent, delivered and read (default 1 s).
	StatusDelay time.Duration
	// ReplyShare of the customers answer their order message (half tap a button,
	// half write a text), ReplyAfter after it was sent; defaults 10 %, 5 s.
	ReplyShare float64
	ReplyAfter time.Duration
	// History is the number of older messages seeded before the run, so the tables
	// are not empty (default 20,000).
	History int
	// ReferenceFor is how long the reference commit rate is measured (default 3 s).
	ReferenceFor time.Duration
	// StatsSettle is how long the last phase waits for the server's transaction
	// counts (default 11 s, see settleStats).
	StatsSettle time.Duration
	// SidecarEnv is added to the sidecar's environment (KEY=value).
	SidecarEnv []string
	Out        io.Writer // the report in words
	Progress   io.Writer // a line a second while the loop runs
}

func (c Config) withDefaults() Config {
	if c.Database == "" {
		c.Database = "whatsapp_sidecar_load"
	}
	if c.StatusDelay <= 0 {
		c.StatusDelay = time.Second
	}
	if c.ReplyShare < 0 {
		c.ReplyShare = 0
	}
	if c.ReplyAfter <= 0 {
		c.ReplyAfter = 5 * time.Second
	}
	if c.ReferenceFor <= 0 {
		c.ReferenceFor = 3 * time.Second
	}
	if c.StatsSettle <= 0 {
		c.StatsSettle = settleStats
	}
	if c.History < 0 {
		c.History = 0
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return c
}

// Report holds the figures; its JSON is what `load --json` prints.
type Report struct {
	CPUs                  int     `json:"cpus"`
	LatencyMs             float64 `json:"emulator_latency_ms"`
	StatusDelayMs         float64 `json:"status_delay_ms"`
	ClosedLoop            bool    `json:"closed_loop"`
	Orders                int     `json:"orders"`
	Numbers               int     `json:"numbers"`
	ReferenceInsertPerSec float64 `json:"reference_insert_commits_per_s"`
	ReferenceNotifyPerSec float64 `json:"reference_insert_notify_commits_per_s"`
	OrdersCommittedPerSec float64 `json:"orders_committed_per_s"`
	// ReferenceOrdersPerSec is how fast 8 connections commit orders as Odoo does
	// (capture triggers on) before the sidecar runs: the ceiling of one_number_msg_s.
	ReferenceOrdersPerSec  float64 `json:"reference_order_commits_per_s"`
	OneNumberMsgPerSec     float64 `json:"one_number_msg_s"`
	AcrossNumbersMsgPerSec float64 `json:"across_numbers_msg_s"`
	// Statuses of the full-load phases: acknowledged by the webhook, the rate they
	// were acknowledged at (from the first one due to the last acknowledged), the
	// rate they were applied at (to the last applied), and from due to the row
	// updated.
	StatusesPosted        int64   `json:"statuses_posted"`
	StatusesRefused       int64   `json:"statuses_refused"`
	StatusesArrivedPerSec float64 `json:"statuses_arrived_per_s"`
	StatusesAppliedPerSec float64 `json:"statuses_applied_per_s"`
	StatusLagP50Ms        float64 `json:"status_lag_p50_ms"`
	StatusLagP99Ms        float64 `json:"status_lag_p99_ms"`
	StatusLagSamples      int     `json:"status_lag_samples"`
	StatusIntakeP99Ms     float64 `json:"status_due_to_acknowledged_p99_ms"`
	StatusApplyP50Ms      float64 `json:"status_acknowledged_to_row_p50_ms"`
	StatusApplyP99Ms      float64 `json:"status_acknowledged_to_row_p99_ms"`
	Replies               int64   `json:"customer_replies"`
	RequestsTotal         int64   `json:"requests_total"`
	LatencyP50Ms          float64 `json:"commit_to_request_p50_ms"`
	LatencyP99Ms          float64 `json:"commit_to_request_p99_ms"`
	LatencySamples        int     `json:"commit_to_request_samples"`
	Rate                  float64 `json:"steady_events_per_s"`
	PeakRSSMB             float64 `json:"rss_peak_mb"`
	SteadyRSSMB           float64 `json:"rss_steady_mb"`
	DBCommitsPerMessage   float64 `json:"db_commits_per_message"`
	CPUMsPer1000Messages  float64 `json:"sidecar_cpu_ms_per_1000_messages"`
	SyncMsgPerSec         float64 `json:"seed_msg_s"`
	PipelineOverSeed      float64 `json:"one_number_over_seed"`
	// Phases has the wall time, sidecar CPU and database commits of each phase.
	Phases []Phase `json:"phases"`
}

// Phase is one phase's cost.
type Phase struct {
	Name      string  `json:"name"`
	Seconds   float64 `json:"seconds"`
	Messages  int64   `json:"messages"`
	CPUMs     float64 `json:"sidecar_cpu_ms"`
	DBCommits int64   `json:"db_commits"`
}

const (
	token     = "load-test-token"
	appSecret = "load-test-app-secret"
	// firstNumber is the first business number's phone number ID.
	firstNumber = 106540352242922
)

// statusesProcessed is the sidecar's counter of status reports handled (applied,
// or found already applied).
const statusesProcessed = "whatsapp_inbound_statuses_total"

// Run performs the phases and prints the report.
func Run(ctx context.Context, cfg Config) (Report, error) {
	cfg = cfg.withDefaults()
	// The child's log lines are written from its own goroutine.
	var writing sync.Mutex // Out and Progress may be one stream
	cfg.Out, cfg.Progress = &syncWriter{mu: &writing, w: cfg.Out}, &syncWriter{mu: &writing, w: cfg.Progress}
	var customers atomic.Int64 // the customers served so far: one per order
	if !strings.HasPrefix(cfg.Database, "whatsapp_sidecar_load") {
		// The run drops and recreates it: never an Odoo database by a typo.
		return Report{}, fmt.Errorf("database %q: the load database's name must start with whatsapp_sidecar_load", cfg.Database)
	}
	rep := Report{LatencyMs: ms(cfg.Latency), StatusDelayMs: ms(cfg.StatusDelay), ClosedLoop: !cfg.OpenLoop,
		Orders: cfg.Orders, Numbers: cfg.Numbers, Rate: cfg.Rate}
	out := cfg.Out
	dbURL, err := pgdump.CreateDatabase(ctx, cfg.AdminURL, cfg.Database, cfg.DumpDir)
	if err != nil {
		return rep, err
	}
	poolCfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return rep, fmt.Errorf("load database URL: %w", err)
	}
	// Odoo's workers: 8 committing orders at once, 8 for the reference rate.
	poolCfg.MaxConns = 16
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return rep, fmt.Errorf("connect to the load database: %w", err)
	}
	defer pool.Close()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return rep, fmt.Errorf("connect to the load database: %w", err)
	}
	_, err = install.Migrate(ctx, conn.Conn())
	conn.Release()
	if err != nil {
		return rep, err
	}
	refOrders := min(cfg.Orders, 1000)
	total := cfg.Orders*2 + int(cfg.Rate*cfg.Duration.Seconds()) + cfg.Sync + refOrders + 100
	if err := prepare(ctx, pool, total, cfg.Numbers); err != nil {
		return rep, err
	}
	if err := seedHistory(ctx, pool, cfg.History); err != nil {
		return rep, err
	}
	if rep.ReferenceInsertPerSec, err = referenceCommitRate(ctx, pool, cfg.ReferenceFor, false); err != nil {
		return rep, err
	}
	if rep.ReferenceNotifyPerSec, err = referenceCommitRate(ctx, pool, cfg.ReferenceFor, true); err != nil {
		return rep, err
	}
	// Odoo's own pace, alone: orders committed before the sidecar runs, their
	// events then dropped so nothing is sent for them.
	start := time.Now()
	if err := commitOrders(ctx, pool, &customers, refOrders, 0, 8, nil); err != nil {
		return rep, err
	}
	rep.ReferenceOrdersPerSec = float64(refOrders) / time.Since(start).Seconds()
	if _, err := pool.Exec(ctx, `DELETE FROM whatsapp_sidecar.event`); err != nil {
		return rep, fmt.Errorf("drop the reference orders' events: %w", err)
	}
	fmt.Fprintf(out, "reference: %.0f single-row INSERT commits/s on this server, %.0f with a NOTIFY each (8 connections, %s); %.0f orders/s committed as Odoo does, sidecar stopped\n",
		rep.ReferenceInsertPerSec, rep.ReferenceNotifyPerSec, cfg.ReferenceFor, rep.ReferenceOrdersPerSec)

	socks, err := bindSockets()
	if err != nil {
		return rep, err
	}
	defer socks.close()
	m := newMeter(cfg.ReplyShare, cfg.ReplyAfter)
	if cfg.OpenLoop {
		m.replyShare = 0
	}
	emuCfg := emulator.Config{
		AccessToken: token, AppSecret: appSecret, MaxRecorded: 1, MaxMessagesPerRecipient: 2,
		Knobs:            emulator.Knobs{Latency: cfg.Latency, StopAt: "read", StatusDelay: cfg.StatusDelay},
		WebhookWorkers:   64,
		OnMessageRequest: m.onMessage,
		OnWebhook:        m.onWebhook,
	}
	if !cfg.OpenLoop {
		emuCfg.WebhookURL = socks.webhookURL()
	}
	emu := emulator.New(emuCfg)
	if err := emu.Start(ctx, "127.0.0.1:0"); err != nil {
		return rep, err
	}
	defer emu.Close(context.WithoutCancel(ctx))
	apiURL := emu.BaseURL()

	answerCtx, stopAnswers := context.WithCancel(ctx)
	var answers sync.WaitGroup
	answers.Add(1)
	go func() { defer answers.Done(); m.answer(answerCtx, emu, out) }()
	defer func() { stopAnswers(); answers.Wait() }()

	child, err := startSidecar(ctx, cfg, dbURL, apiURL, socks)
	if err != nil {
		return rep, err
	}
	defer func() { child.stop() }()
	loop := "closed loop: status webhooks for every message"
	if cfg.OpenLoop {
		loop = "open loop: no status webhooks"
	}
	fmt.Fprintf(out, "sidecar pid %d; emulator latency %s, %s (every %s), %.0f %% of customers answer; %d orders per phase\n",
		child.pid(), cfg.Latency, loop, cfg.StatusDelay, m.replyShare*100, cfg.Orders)

	ph := newPhases(pool, child)
	// Phase 1: orders committed as Odoo does, as fast as 8 connections can, one number.
	if err := ph.begin(ctx, "one number"); err != nil {
		return rep, err
	}
	base := m.orderMsgs.Load()
	committing := time.Now()
	if err := commitOrders(ctx, pool, &customers, cfg.Orders, 0, 8, nil); err != nil {
		return rep, err
	}
	rep.OrdersCommittedPerSec = float64(cfg.Orders) / time.Since(committing).Seconds()
	if err := waitCount(ctx, cfg.Progress, "one number", &m.orderMsgs, base+int64(cfg.Orders), m, child); err != nil {
		return rep, err
	}
	p1, err := ph.end(ctx, int64(cfg.Orders), int64(cfg.Orders), 0)
	if err != nil {
		return rep, err
	}
	rep.OneNumberMsgPerSec = float64(cfg.Orders) / p1.Seconds
	fmt.Fprintf(out, "one number:      %6.0f msg/s (%d orders committed -> requests at the emulator; orders committed at %.0f/s)\n",
		rep.OneNumberMsgPerSec, cfg.Orders, rep.OrdersCommittedPerSec)

	// Phase 2: queued rows spread over the numbers (the table is the API).
	if err := ph.begin(ctx, "across numbers"); err != nil {
		return rep, err
	}
	base = m.queuedMsgs.Load()
	if _, err := pool.Exec(ctx, queueAcrossNumbers, cfg.Orders, cfg.Numbers); err != nil {
		return rep, fmt.Errorf("queue rows across numbers: %w", err)
	}
	if err := waitCount(ctx, cfg.Progress, "across numbers", &m.queuedMsgs, base+int64(cfg.Orders), m, child); err != nil {
		return rep, err
	}
	settle := time.Duration(0)
	if cfg.OpenLoop {
		settle = cfg.StatsSettle
	}
	p2, err := ph.end(ctx, int64(cfg.Orders), 1, settle)
	if err != nil {
		return rep, err
	}
	rep.AcrossNumbersMsgPerSec = float64(cfg.Orders) / p2.Seconds
	fmt.Fprintf(out, "%d numbers:       %6.0f msg/s (queued rows -> requests)\n", cfg.Numbers, rep.AcrossNumbersMsgPerSec)

	// The statuses of both phases: wait until the sidecar has handled every one the
	// emulator posted, then time them.
	if !cfg.OpenLoop {
		if err := ph.begin(ctx, "statuses drain"); err != nil {
			return rep, err
		}
		appliedEnd, looks, err := drainStatuses(ctx, cfg.Progress, pool, m, child, emu)
		if err != nil {
			return rep, err
		}
		if _, err := ph.end(ctx, 0, looks, cfg.StatsSettle); err != nil {
			return rep, err
		}
		first, last := m.window()
		rep.StatusesPosted, rep.StatusesRefused = m.statusesOK.Load(), m.statusesBad.Load()
		if span := last.Sub(first).Seconds(); span > 0 {
			rep.StatusesArrivedPerSec = float64(rep.StatusesPosted) / span
		}
		if span := appliedEnd.Sub(first).Seconds(); span > 0 {
			rep.StatusesAppliedPerSec = float64(rep.StatusesPosted) / span
		}
		lags, err := statusLags(ctx, pool, m.takeReadDue())
		if err != nil {
			return rep, err
		}
		rep.StatusLagSamples = len(lags.total)
		rep.StatusLagP50Ms, rep.StatusLagP99Ms = quantile(lags.total, 0.5), quantile(lags.total, 0.99)
		rep.StatusIntakeP99Ms = quantile(lags.intake, 0.99)
		rep.StatusApplyP50Ms, rep.StatusApplyP99Ms = quantile(lags.apply, 0.5), quantile(lags.apply, 0.99)
		fmt.Fprintf(out, "statuses:        %6.0f/s acknowledged, %6.0f/s applied; due -> row updated p50 %.0f ms, p99 %.0f ms (due -> acknowledged p99 %.0f ms, acknowledged -> row p50 %.0f, p99 %.0f ms; %d read statuses); %d refused\n",
			rep.StatusesArrivedPerSec, rep.StatusesAppliedPerSec, rep.StatusLagP50Ms, rep.StatusLagP99Ms,
			rep.StatusIntakeP99Ms, rep.StatusApplyP50Ms, rep.StatusApplyP99Ms, len(lags.total), rep.StatusesRefused)
	}

	rss, _ := child.sample()
	rep.PeakRSSMB = float64(rss) / 1e6
	rep.Phases = ph.done
	var cpu, commits float64
	var msgs int64
	for _, p := range ph.done {
		cpu += p.CPUMs
		commits += float64(p.DBCommits)
		msgs += p.Messages
	}
	if msgs > 0 {
		rep.CPUMsPer1000Messages = cpu / float64(msgs) * 1000
		rep.DBCommitsPerMessage = commits / float64(msgs)
	}
	fmt.Fprintf(out, "sidecar under full load: peak RSS %.1f MB, %.0f ms CPU per 1,000 messages, %.2f database commits per message\n",
		rep.PeakRSSMB, rep.CPUMsPer1000Messages, rep.DBCommitsPerMessage)

	// Phase 3: a steady rate of Odoo commits, on a fresh sidecar process; latency
	// from each commit to its request, and the memory such a day needs.
	child.stop()
	if child, err = startSidecar(ctx, cfg, dbURL, apiURL, socks); err != nil {
		return rep, err
	}
	commits3 := map[int]time.Time{}
	var mu sync.Mutex
	n := int(cfg.Rate * cfg.Duration.Seconds())
	base = m.orderMsgs.Load()
	if err := commitOrders(ctx, pool, &customers, n, cfg.Rate, 4, func(order int, at time.Time) {
		mu.Lock()
		commits3[order] = at
		mu.Unlock()
	}); err != nil {
		return rep, err
	}
	if err := waitCount(ctx, cfg.Progress, "steady rate", &m.orderMsgs, base+int64(n), m, child); err != nil {
		return rep, err
	}
	lat, err := latencies(ctx, pool, commits3, m)
	if err != nil {
		return rep, err
	}
	rep.LatencySamples = len(lat)
	rep.LatencyP50Ms, rep.LatencyP99Ms = quantile(lat, 0.5), quantile(lat, 0.99)
	fmt.Fprintf(out, "at %.0f events/s: commit -> request p50 %.1f ms, p99 %.1f ms (%d messages)\n",
		cfg.Rate, rep.LatencyP50Ms, rep.LatencyP99Ms, len(lat))
	rss, _ = child.sample()
	rep.SteadyRSSMB = float64(rss) / 1e6
	fmt.Fprintf(out, "sidecar peak RSS at %.0f events/s: %.1f MB\n", cfg.Rate, rep.SteadyRSSMB)

	// Phase 4: the seed module's model, for comparison: one order at a time, read,
	// send and wait for Meta, write the flag, next.
	if cfg.Sync > 0 {
		child.stop() // alone on the emulator
		rep.SyncMsgPerSec, err = sendSynchronously(ctx, pool, &customers, cfg.Sync, apiURL)
		if err != nil {
			return rep, err
		}
		rep.PipelineOverSeed = rep.OneNumberMsgPerSec / rep.SyncMsgPerSec
		fmt.Fprintf(out, "seed's model:    %6.1f msg/s (synchronous, one at a time); pipeline/seed = %.0fx\n",
			rep.SyncMsgPerSec, rep.PipelineOverSeed)
	}
	rep.Replies, rep.RequestsTotal = m.replies.Load(), m.requests.Load()
	return rep, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

const queueAcrossNumbers = `
INSERT INTO whatsapp_message (config_id, phone, content)
SELECT c.id, '+22176' || lpad(g::text, 7, '0'), 'load ' || g
FROM generate_series(1, $1) g JOIN LATERAL (
    SELECT id FROM whatsapp_config ORDER BY id OFFSET (g % $2) LIMIT 1) c ON true`

// prepare adds the customers (one per message, so the pair rate limit does not
// pace the run) and the business numbers.
func prepare(ctx context.Context, pool *pgxpool.Pool, customers, numbers int) error {
	_, err := pool.Exec(ctx, `
		INSERT INTO res_partner (name, display_name, mobile, country_id, type, active, customer_rank, lang)
		SELECT 'Client ' || g, 'Client ' || g, '+22177' || lpad(g::text, 7, '0'), 204, 'contact', true, 1, 'fr_FR'
		FROM generate_series(1, $1) g`, customers)
	if err != nil {
		return fmt.Errorf("add customers: %w", err)
	}
	for i := 0; i < numbers; i++ {
		company := any(nil)
		if i == 0 {
			company = 1
		}
		if _, err := pool.Exec(ctx, `
			INSERT INTO whatsapp_config (name, phone_number_id, access_token, facebook_app_secret, company_id,
			    default_country_code, auto_send_order_creation, rate_limit_per_second)
			VALUES ($1, $2, $3, $4, $5, 'SN', true, 1000)`,
			fmt.Sprintf("Number %d", i+1), strconv.Itoa(firstNumber+i), token, appSecret, company); err != nil {
			return fmt.Errorf("add business number: %w", err)
		}
	}
	return nil
}

// commitOrders commits n quotations (INSERT then UPDATE, one transaction each, as
// the ORM does) from `workers` connections, at rate per second (0: unpaced).
func commitOrders(ctx context.Context, pool *pgxpool.Pool, nextCustomer *atomic.Int64, n int, rate float64, workers int, committed func(order int, at time.Time)) error {
	var firstPartner int
	if err := pool.QueryRow(ctx, `SELECT min(id) FROM res_partner WHERE name LIKE 'Client %'`).Scan(&firstPartner); err != nil {
		return err
	}
	jobs := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				partner := firstPartner + int(nextCustomer.Add(1)) - 1
				id, err := odoosim.NewQuotation(ctx, pool, partner, 10000, 1800)
				if err != nil {
					errs <- err
					return
				}
				if committed != nil {
					committed(id, time.Now())
				}
			}
		}()
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		if rate > 0 {
			if wait := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); wait > 0 {
				time.Sleep(wait)
			}
		}
		select {
		case jobs <- i:
		case err := <-errs:
			close(jobs)
			wg.Wait()
			return err
		case <-ctx.Done():
			close(jobs)
			wg.Wait()
			return ctx.Err()
		}
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// sendSynchronously is the seed module's model: in Odoo's request, read the order,
// send and wait for Meta's answer, write the flag; then the next order.
func sendSynchronously(ctx context.Context, pool *pgxpool.Pool, nextCustomer *atomic.Int64, n int, apiURL string) (float64, error) {
	client, err := whatsapp.NewClient(whatsapp.Options{BaseURL: apiURL, AccessToken: token, RatePerSecond: 1000})
	if err != nil {
		return 0, err
	}
	var firstPartner int
	if err := pool.QueryRow(ctx, `SELECT min(id) FROM res_partner WHERE name LIKE 'Client %'`).Scan(&firstPartner); err != nil {
		return 0, err
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		partner := firstPartner + int(nextCustomer.Add(1)) - 1
		var name, mobile string
		if err := pool.QueryRow(ctx, `SELECT name, mobile FROM res_partner WHERE id = $1`, partner).Scan(&name, &mobile); err != nil {
			return 0, err
		}
		msg := whatsapp.ButtonsMessage(mobile, "Bonjour "+name+", votre commande a été créée.",
			whatsapp.ButtonReply{ID: "btn_validate_order_1", Title: "Valider"})
		if _, err := client.Send(ctx, strconv.Itoa(firstNumber), msg); err != nil {
			return 0, err
		}
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `UPDATE res_partner SET write_date = now() WHERE id = $1`, partner)
			return err
		})
		if err != nil {
			return 0, err
		}
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// syncWriter serialises writes from several goroutines.
type syncWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
