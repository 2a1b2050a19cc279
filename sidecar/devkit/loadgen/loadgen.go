// Package loadgen proves the pipeline under load: it builds an Odoo 16 database,
// starts the Cloud API emulator with a chosen latency and a real `whatsapp-sidecar
// run` process against both, then commits orders the way Odoo's ORM does and times
// what reaches the emulator: throughput on one number and across numbers,
// commit-to-request latency at a steady rate, the sidecar's peak memory, and the same
// orders sent the seed module's way (one at a time, synchronously) for comparison.
package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/odoosim"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgdump"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/install"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/outbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
)

// Config is one load run.
type Config struct {
	AdminURL string        // PostgreSQL server, a superuser (the database is created)
	DumpDir  string        // testdata/odoo16
	Binary   string        // the whatsapp-sidecar executable to run
	Orders   int           // orders per throughput phase
	Numbers  int           // business numbers for the across-numbers phase
	Latency  time.Duration // emulated Meta latency
	Rate     float64       // events/s of the latency phase
	Duration time.Duration // length of the latency phase
	Sync     int           // orders sent the seed's way (0: skip)
	Out      io.Writer
}

// Report holds the figures.
type Report struct {
	OneNumberMsgPerSec     float64
	AcrossNumbersMsgPerSec float64
	LatencyP50, LatencyP99 time.Duration
	LatencySamples         int
	SyncMsgPerSec          float64
	PeakRSSBytes           int64 // during the throughput phases
	SteadyRSSBytes         int64 // during the steady-rate phase
}

const token = "load-test-token"

// Run performs the phases and prints the report.
func Run(ctx context.Context, cfg Config) (Report, error) {
	var rep Report
	dbURL, err := pgdump.CreateDatabase(ctx, cfg.AdminURL, "whatsapp_sidecar_load", cfg.DumpDir)
	if err != nil {
		return rep, err
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return rep, err
	}
	defer pool.Close()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return rep, err
	}
	_, err = install.Migrate(ctx, conn.Conn())
	conn.Release()
	if err != nil {
		return rep, err
	}
	total := cfg.Orders*2 + int(cfg.Rate*cfg.Duration.Seconds()) + cfg.Sync + 100
	if err := prepare(ctx, pool, total, cfg.Numbers); err != nil {
		return rep, err
	}

	var arrived atomic.Int64
	var arrivals sync.Map // row id -> time the emulator read the request
	emu := emulator.New(emulator.Config{
		AccessToken: token, MaxRecorded: 1, MaxMessagesPerRecipient: 1,
		Knobs: emulator.Knobs{Latency: cfg.Latency, StopAt: "sent"},
	})
	if err := emu.Start(ctx, "127.0.0.1:0"); err != nil {
		return rep, err
	}
	defer emu.Close(context.WithoutCancel(ctx))
	// Time each message when the emulator reads it, by its row id: a proxy listens
	// in front of the emulator so the timing needs nothing from it.
	proxy, err := timingProxy(ctx, emu, &arrived, &arrivals)
	if err != nil {
		return rep, err
	}
	defer proxy.Close()
	apiURL := "http://" + proxy.Addr().String() + "/v21.0"

	child, err := startSidecar(ctx, cfg, dbURL, apiURL)
	if err != nil {
		return rep, err
	}
	defer child.stop()
	fmt.Fprintf(cfg.Out, "sidecar pid %d; emulator latency %s; %d orders per phase\n", child.cmd.Process.Pid, cfg.Latency, cfg.Orders)

	// Phase 1: orders committed as Odoo does, as fast as 8 connections can, one number.
	start := time.Now()
	base := arrived.Load()
	if err := commitOrders(ctx, pool, cfg.Orders, 0, 8, nil); err != nil {
		return rep, err
	}
	if err := waitFor(ctx, &arrived, base+int64(cfg.Orders), 5*time.Minute); err != nil {
		return rep, fmt.Errorf("one number: %w", err)
	}
	rep.OneNumberMsgPerSec = float64(cfg.Orders) / time.Since(start).Seconds()
	fmt.Fprintf(cfg.Out, "one number:      %6.0f msg/s (%d orders committed -> requests at the emulator)\n", rep.OneNumberMsgPerSec, cfg.Orders)

	// Phase 2: queued rows spread over the numbers (the table is the API).
	start = time.Now()
	base = arrived.Load()
	if _, err := pool.Exec(ctx, `
		INSERT INTO whatsapp_message (config_id, phone, content)
		SELECT c.id, '+22176' || lpad(g::text, 7, '0'), 'load ' || g
		FROM generate_series(1, $1) g JOIN LATERAL (
		    SELECT id FROM whatsapp_config ORDER BY id OFFSET (g % $2) LIMIT 1) c ON true`, cfg.Orders, cfg.Numbers); err != nil {
		return rep, err
	}
	if err := waitFor(ctx, &arrived, base+int64(cfg.Orders), 5*time.Minute); err != nil {
		return rep, fmt.Errorf("across numbers: %w", err)
	}
	rep.AcrossNumbersMsgPerSec = float64(cfg.Orders) / time.Since(start).Seconds()
	fmt.Fprintf(cfg.Out, "%d numbers:       %6.0f msg/s (queued rows -> requests)\n", cfg.Numbers, rep.AcrossNumbersMsgPerSec)

	rep.PeakRSSBytes = child.peakRSS()
	fmt.Fprintf(cfg.Out, "sidecar peak RSS under full load: %.1f MB\n", float64(rep.PeakRSSBytes)/1e6)

	// Phase 3: a steady rate of Odoo commits, on a fresh sidecar process; latency
	// from each commit to its request, and the memory such a day needs.
	child.stop()
	if child, err = startSidecar(ctx, cfg, dbURL, apiURL); err != nil {
		return rep, err
	}
	defer child.stop()
	commits := map[int]time.Time{}
	var mu sync.Mutex
	n := int(cfg.Rate * cfg.Duration.Seconds())
	base = arrived.Load()
	if err := commitOrders(ctx, pool, n, cfg.Rate, 4, func(order int, at time.Time) {
		mu.Lock()
		commits[order] = at
		mu.Unlock()
	}); err != nil {
		return rep, err
	}
	if err := waitFor(ctx, &arrived, base+int64(n), 5*time.Minute); err != nil {
		return rep, fmt.Errorf("steady rate: %w", err)
	}
	lat, err := latencies(ctx, pool, commits, &arrivals)
	if err != nil {
		return rep, err
	}
	rep.LatencySamples = len(lat)
	if len(lat) > 0 {
		rep.LatencyP50, rep.LatencyP99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	fmt.Fprintf(cfg.Out, "at %.0f events/s: commit -> request p50 %s, p99 %s (%d messages)\n",
		cfg.Rate, rep.LatencyP50.Round(100*time.Microsecond), rep.LatencyP99.Round(100*time.Microsecond), len(lat))

	rep.SteadyRSSBytes = child.peakRSS()
	fmt.Fprintf(cfg.Out, "sidecar peak RSS at %.0f events/s: %.1f MB\n", cfg.Rate, float64(rep.SteadyRSSBytes)/1e6)

	// Phase 4: the seed module's model, for comparison: one order at a time, read,
	// send and wait for Meta, write the flag, next.
	if cfg.Sync > 0 {
		child.stop() // alone on the emulator
		rep.SyncMsgPerSec, err = sendSynchronously(ctx, pool, cfg.Sync, apiURL)
		if err != nil {
			return rep, err
		}
		fmt.Fprintf(cfg.Out, "seed's model:    %6.1f msg/s (synchronous, one at a time); pipeline/seed = %.0fx\n",
			rep.SyncMsgPerSec, rep.OneNumberMsgPerSec/rep.SyncMsgPerSec)
	}
	return rep, nil
}

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
			INSERT INTO whatsapp_config (name, phone_number_id, access_token, company_id, default_country_code,
			    auto_send_order_creation, rate_limit_per_second)
			VALUES ($1, $2, $3, $4, 'SN', true, 1000)`,
			fmt.Sprintf("Number %d", i+1), strconv.Itoa(106540352242922+i), token, company); err != nil {
			return fmt.Errorf("add business number: %w", err)
		}
	}
	return nil
}

var nextCustomer atomic.Int64

// commitOrders commits n quotations (INSERT then UPDATE, one transaction each, as
// the ORM does) from `workers` connections, at rate per second (0: unpaced).
func commitOrders(ctx context.Context, pool *pgxpool.Pool, n int, rate float64, workers int, committed func(order int, at time.Time)) error {
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

func waitFor(ctx context.Context, counter *atomic.Int64, target int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for counter.Load() < target {
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d messages reached the emulator in %s", counter.Load(), target, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// latencies pairs each order's commit time with the time its message reached the
// emulator.
func latencies(ctx context.Context, pool *pgxpool.Pool, commits map[int]time.Time, arrivals *sync.Map) ([]time.Duration, error) {
	ids := make([]int, 0, len(commits))
	for id := range commits {
		ids = append(ids, id)
	}
	rows, err := pool.Query(ctx, `SELECT id, res_id FROM whatsapp_message WHERE res_model = 'sale.order' AND res_id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []time.Duration
	for rows.Next() {
		var rowID, order int
		if err := rows.Scan(&rowID, &order); err != nil {
			return nil, err
		}
		if at, ok := arrivals.Load(rowID); ok {
			out = append(out, at.(time.Time).Sub(commits[order]))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, rows.Err()
}

// timingProxy forwards to the emulator and notes when each message request
// arrives, by the row id its biz_opaque_callback_data carries.
func timingProxy(ctx context.Context, emu *emulator.Server, arrived *atomic.Int64, arrivals *sync.Map) (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	target := emu.URL()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2048, MaxConnsPerHost: 0}}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.HasSuffix(r.URL.Path, "/messages") {
			var m struct {
				Biz string `json:"biz_opaque_callback_data"`
			}
			if json.Unmarshal(body, &m) == nil {
				if id := outbox.RowFromCallbackData(m.Biz); id != 0 {
					arrivals.Store(id, time.Now())
				}
			}
			arrived.Add(1)
		}
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.RequestURI(), strings.NewReader(string(body)))
		req.Header = r.Header.Clone()
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})}
	go srv.Serve(ln)
	go func() { <-ctx.Done(); srv.Close() }()
	return ln, nil
}

type child struct {
	cmd  *exec.Cmd
	once sync.Once
	rss  int64
}

func startSidecar(ctx context.Context, cfg Config, dbURL, apiURL string) (*child, error) {
	cmd := exec.Command(cfg.Binary, "run")
	cmd.Env = append(os.Environ(),
		"DATABASE_URL="+dbURL, "WHATSAPP_API_URL="+apiURL,
		"WEBHOOK_ADDR=127.0.0.1:0", "METRICS_ADDR=127.0.0.1:0", "LOG_FORMAT=json", "LOG_LEVEL=info")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s run: %w", cfg.Binary, err)
	}
	c := &child{cmd: cmd}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		var once sync.Once
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, `"listener":"metrics"`) {
				once.Do(func() { close(ready) })
			}
			if strings.Contains(line, `"level":"ERROR"`) || strings.Contains(line, `"level":"WARN"`) {
				fmt.Fprintln(cfg.Out, "sidecar:", line)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		c.stop()
		return nil, errors.New("the sidecar did not start listening within 30 s")
	case <-ctx.Done():
		c.stop()
		return nil, ctx.Err()
	}
	return c, nil
}

// peakRSS is the child's high-water resident set (VmHWM).
func (c *child) peakRSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return c.rss
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			c.rss = kb * 1024
		}
	}
	return c.rss
}

func (c *child) stop() {
	c.once.Do(func() {
		c.peakRSS()
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { c.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = c.cmd.Process.Kill()
		}
	})
}

// sendSynchronously is the seed module's model: in Odoo's request, read the order,
// send and wait for Meta's answer, write the flag; then the next order.
func sendSynchronously(ctx context.Context, pool *pgxpool.Pool, n int, apiURL string) (float64, error) {
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
		if _, err := client.Send(ctx, "106540352242922", msg); err != nil {
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
