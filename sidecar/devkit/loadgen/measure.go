package loadgen

import (
	"context"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
)

// waitTimeout bounds each wait for the sidecar; a run that stalls fails instead
// of hanging.
const waitTimeout = 5 * time.Minute

// progressEvery is how often the tool says where it is.
const progressEvery = time.Second

// settleStats is how long the last phase waits before reading the database's
// transaction counter: a PostgreSQL 15 backend reports its counts at most once a
// second, and an idle one ten seconds after its last transaction.
const settleStats = 11 * time.Second

// phases measures the wall time, sidecar CPU and database commits of each phase.
type phases struct {
	pool  *pgxpool.Pool
	child *child
	done  []Phase

	name    string
	start   time.Time
	cpu     time.Duration
	commits int64
}

func newPhases(pool *pgxpool.Pool, c *child) *phases { return &phases{pool: pool, child: c} }

const selectCommits = `SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`

func (p *phases) begin(ctx context.Context, name string) error {
	p.name, p.start = name, time.Now()
	_, p.cpu = p.child.sample()
	if err := p.pool.QueryRow(ctx, selectCommits).Scan(&p.commits); err != nil {
		return fmt.Errorf("read the commit counter: %w", err)
	}
	return nil
}

// end closes the phase: messages is what it sent, own the transactions the tool
// itself committed in it (its reads of the counter are counted here too).
func (p *phases) end(ctx context.Context, messages, own int64, settle time.Duration) (Phase, error) {
	ph := Phase{Name: p.name, Seconds: time.Since(p.start).Seconds(), Messages: messages}
	_, cpu := p.child.sample()
	ph.CPUMs = ms(cpu - p.cpu)
	if settle > 0 {
		select {
		case <-ctx.Done():
			return ph, ctx.Err()
		case <-time.After(settle):
		}
	}
	var commits int64
	if err := p.pool.QueryRow(ctx, selectCommits).Scan(&commits); err != nil {
		return ph, fmt.Errorf("read the commit counter: %w", err)
	}
	ph.DBCommits = max(0, commits-p.commits-own-1)
	p.done = append(p.done, ph)
	return ph, nil
}

// waitCount waits until counter reaches target, saying every second how far the
// loop is.
func waitCount(ctx context.Context, out io.Writer, what string, counter *atomic.Int64, target int64, m *meter, c *child) error {
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	for counter.Load() < target {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: only %d of %d messages reached the emulator in %s", what, counter.Load(), target, waitTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			progress(ctx, out, what, m, c)
		case <-poll.C:
		}
	}
	return nil
}

func progress(ctx context.Context, out io.Writer, what string, m *meter, c *child) {
	handled, _ := c.counter(ctx, statusesProcessed)
	rss, cpu := c.sample()
	fmt.Fprintf(out, "  %s: %d requests at the emulator, %d statuses posted, %.0f handled, %d answers; sidecar RSS %.0f MB, CPU %.1f s\n",
		what, m.requests.Load(), m.statusesOK.Load(), handled, m.replies.Load(), float64(rss)/1e6, cpu.Seconds())
}

// drainStatuses waits until the emulator has no webhook left to post and the
// sidecar has applied every delivery its webhook acknowledged (stored, so in the
// inbox); it returns when that was first seen, and how many transactions its looks
// committed. It looks at the inbox, not at the sidecar's metrics: a scrape runs the
// queue collectors' queries, so looking every 20 ms that way made the sidecar's
// commits per message and CPU the tool's.
func drainStatuses(ctx context.Context, out io.Writer, pool *pgxpool.Pool, m *meter, c *child, emu *emulator.Server) (time.Time, int64, error) {
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	var looks int64
	for {
		var left int64
		looks++
		if err := pool.QueryRow(ctx, unappliedDeliveries).Scan(&left); err != nil {
			return time.Time{}, looks, fmt.Errorf("count the deliveries still to apply: %w", err)
		}
		if emu.PendingWebhooks() == 0 && m.replyQueueEmpty() && left == 0 {
			return time.Now(), looks, nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, looks, fmt.Errorf("statuses: %d deliveries still to apply after %s", left, waitTimeout)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, looks, ctx.Err()
		case <-tick.C:
			progress(ctx, out, "statuses", m, c)
		case <-poll.C:
		}
	}
}

// unappliedDeliveries counts the stored deliveries the inbox processor has not
// applied yet (parked ones too: a status set aside is not applied).
const unappliedDeliveries = `SELECT count(*) FROM whatsapp_sidecar.inbox WHERE processed_at IS NULL`

// lags are, for each message whose read status was posted, the time from when
// Meta would have posted it to the row's last update (write_date, which the read
// report sets: the start of the transaction that applied it), and its two parts:
// due -> acknowledged by the webhook (the emulator waits for a free sender when the
// webhook is slow to answer), acknowledged -> applied (the inbox processor).
type lags struct{ total, intake, apply []time.Duration }

func statusLags(ctx context.Context, pool *pgxpool.Pool, reads map[string]readTimes) (lags, error) {
	var out lags
	ids := make([]string, 0, len(reads))
	for id := range reads {
		ids = append(ids, id)
	}
	rows, err := pool.Query(ctx, `SELECT wa_message_id, write_date FROM whatsapp_message
		WHERE wa_message_id = ANY($1) AND status = 'read'`, ids)
	if err != nil {
		return out, fmt.Errorf("read the statuses' rows: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			return out, fmt.Errorf("read the statuses' rows: %w", err)
		}
		// write_date is UTC without a zone: pgx reads it as UTC.
		r := reads[id]
		out.total = append(out.total, max(0, at.Sub(r.due)))
		out.intake = append(out.intake, max(0, r.acked.Sub(r.due)))
		out.apply = append(out.apply, max(0, at.Sub(r.acked)))
	}
	for _, l := range [][]time.Duration{out.total, out.intake, out.apply} {
		sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	}
	return out, rows.Err()
}

// quantile is the q-quantile of sorted durations, in milliseconds.
func quantile(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return ms(sorted[min(len(sorted)-1, int(float64(len(sorted))*q))])
}

// latencies pairs each order's commit time with the time its message reached the
// emulator.
func latencies(ctx context.Context, pool *pgxpool.Pool, commits map[int]time.Time, m *meter) ([]time.Duration, error) {
	ids := make([]int, 0, len(commits))
	for id := range commits {
		ids = append(ids, id)
	}
	rows, err := pool.Query(ctx, `SELECT id, res_id FROM whatsapp_message
		WHERE res_model = 'sale.order' AND kind = 'order_created' AND res_id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("read the orders' messages: %w", err)
	}
	defer rows.Close()
	var out []time.Duration
	for rows.Next() {
		var rowID, order int
		if err := rows.Scan(&rowID, &order); err != nil {
			return nil, fmt.Errorf("read the orders' messages: %w", err)
		}
		if at, ok := m.arrivalOf(rowID); ok {
			out = append(out, at.Sub(commits[order]))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, rows.Err()
}

// referenceCommitRate is how many single-row INSERT transactions the server
// commits per second from 8 connections: the machine's yardstick, measured in the
// same run as the figures. With notify, each also sends a NOTIFY, as Odoo's order
// commits do through the capture trigger: PostgreSQL commits such transactions one
// at a time (a cluster-wide lock held through the commit's flush), which bounds how
// fast Odoo can commit orders on this server.
func referenceCommitRate(ctx context.Context, pool *pgxpool.Pool, d time.Duration, notify bool) (float64, error) {
	if _, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS loadgen_reference (id bigserial PRIMARY KEY, at timestamptz DEFAULT now())`); err != nil {
		return 0, fmt.Errorf("reference table: %w", err)
	}
	stmt := `INSERT INTO loadgen_reference DEFAULT VALUES`
	if notify {
		stmt = `WITH i AS (INSERT INTO loadgen_reference DEFAULT VALUES) SELECT pg_notify('loadgen_reference', '')`
	}
	var n atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	stop := time.Now().Add(d)
	start := time.Now()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					errs <- fmt.Errorf("reference insert: panic: %v", r)
				}
			}()
			for time.Now().Before(stop) {
				if _, err := pool.Exec(ctx, stmt); err != nil {
					errs <- fmt.Errorf("reference insert: %w", err)
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return 0, err
	default:
	}
	return float64(n.Load()) / time.Since(start).Seconds(), nil
}

// seedHistory adds n older messages, sent, delivered and read, over the customers
// of the demo data, so the run works on tables that are not empty.
func seedHistory(ctx context.Context, pool *pgxpool.Pool, n int) error {
	if n == 0 {
		return nil
	}
	_, err := pool.Exec(ctx, `
		INSERT INTO whatsapp_message (direction, config_id, phone, content, message_type, status, wa_message_id,
		    kind, sent_at, delivered_at, read_at, discuss_shown, create_date, write_date)
		SELECT 'out', (SELECT min(id) FROM whatsapp_config), '+22178' || lpad(g::text, 7, '0'), 'history ' || g, 'text',
		    'read', 'wamid.history.' || g, 'manual', t, t + interval '2 s', t + interval '1 min', 'history', t, t + interval '1 min'
		FROM generate_series(1, $1) g, LATERAL (SELECT (now() AT TIME ZONE 'utc') - make_interval(mins => g) AS t) d`, n)
	if err != nil {
		return fmt.Errorf("seed the message history: %w", err)
	}
	_, err = pool.Exec(ctx, `ANALYZE whatsapp_message`)
	return err
}
