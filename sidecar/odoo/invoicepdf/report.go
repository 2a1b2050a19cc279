package invoicepdf

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo"
)

// A report request holds an Odoo worker for seconds (QWeb, then wkhtmltopdf, whose
// requests for the report's CSS and fonts take more workers). So the sidecar asks for
// an invoice's report once: concurrent calls for the same invoice share one request,
// Odoo then stores the PDF of a posted invoice as an attachment (the report's
// `attachment` expression), which the next call finds in the database, and a report
// Odoo did not store (a draft) is kept here for a while. Report requests go at most
// MaxConcurrentReports at a time, and only while Odoo answers as usual (gate).

// recentTTL and recentMaxBytes bound the PDFs kept after a report request.
const (
	recentTTL      = 10 * time.Minute
	recentMaxBytes = 32 << 20
)

// errReportQueue: the invoice waited reportWait for a free report slot.
var errReportQueue = errors.New("other invoices' report requests held every slot")

const invoiceWriteDateQuery = `SELECT write_date FROM account_move WHERE id = $1`

// reportKey names one version of an invoice: a write (posted, paid, edited) makes
// another PDF.
type reportKey struct {
	invoiceID int
	writeDate time.Time
}

// odooReport returns Odoo's report for invoice id, from the recent PDFs, another
// call's request for it, or a request of its own.
func (s *Source) odooReport(ctx context.Context, q odoo.DBTX, id int) ([]byte, error) {
	var writeDate *time.Time
	if err := q.QueryRow(ctx, invoiceWriteDateQuery, id).Scan(&writeDate); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("invoice %d: not found", id)
		}
		return nil, fmt.Errorf("read invoice %d's write date: %w", id, err)
	}
	key := reportKey{invoiceID: id}
	if writeDate != nil {
		key.writeDate = *writeDate
	}
	if data, ok := s.recent.get(key, s.clock.Now()); ok {
		return data, nil
	}
	return s.flights.do(ctx, key, s.hooks.joined, func() ([]byte, error) {
		// A flight for this version may have ended between the look above and now.
		if data, ok := s.recent.get(key, s.clock.Now()); ok {
			return data, nil
		}
		data, err := s.requestReport(ctx, id)
		if err != nil {
			return nil, err
		}
		s.recent.put(key, data, s.clock.Now())
		return data, nil
	})
}

// requestReport asks Odoo for the report once a slot is free and Odoo answers as
// usual, waiting for both at most reportWait.
func (s *Source) requestReport(ctx context.Context, id int) ([]byte, error) {
	start := s.clock.Now()
	select {
	case s.slots <- struct{}{}:
	default:
		s.hooks.waitingForSlot()
		select {
		case s.slots <- struct{}{}:
		case <-s.clock.After(reportWait):
			return nil, fmt.Errorf("%w for %s", errReportQueue, reportWait)
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for a report slot: %w", context.Cause(ctx))
		}
	}
	defer func() { <-s.slots }()
	if err := s.gate.wait(ctx, start); err != nil {
		return nil, err
	}
	report := s.Report
	if report == "" {
		report = "account.report_invoice"
	}
	return s.Odoo.ReportPDF(ctx, report, id)
}

// flights lets concurrent calls for the same invoice version share one request.
type flights struct {
	mu sync.Mutex
	m  map[reportKey]*flight
}

type flight struct {
	done chan struct{}
	data []byte
	err  error
	// abandoned: the call that made the request went away (its context ended,
	// or it panicked) without an answer; the others try again themselves
	// rather than take its cancellation for theirs.
	abandoned bool
}

// do runs fn unless a call for key is already running, and then waits for its
// answer; joined is called when a call waits for another's.
func (f *flights) do(ctx context.Context, key reportKey, joined func(), fn func() ([]byte, error)) ([]byte, error) {
	for {
		f.mu.Lock()
		if fl, ok := f.m[key]; ok {
			f.mu.Unlock()
			joined()
			select {
			case <-fl.done:
			case <-ctx.Done():
				return nil, fmt.Errorf("wait for invoice %d's report: %w", key.invoiceID, context.Cause(ctx))
			}
			if fl.abandoned {
				continue
			}
			return fl.data, fl.err
		}
		if f.m == nil {
			f.m = make(map[reportKey]*flight)
		}
		fl := &flight{done: make(chan struct{}), abandoned: true}
		f.m[key] = fl
		f.mu.Unlock()
		return f.lead(ctx, key, fl, fn)
	}
}

// lead makes the request of flight fl and hands its answer to those waiting.
func (f *flights) lead(ctx context.Context, key reportKey, fl *flight, fn func() ([]byte, error)) ([]byte, error) {
	defer func() {
		f.mu.Lock()
		delete(f.m, key)
		f.mu.Unlock()
		close(fl.done)
	}()
	fl.data, fl.err = fn()
	fl.abandoned = fl.err != nil && ctx.Err() != nil
	return fl.data, fl.err
}

// recent holds the PDFs of the last report requests, oldest first, at most
// recentMaxBytes of them and none older than recentTTL.
type recent struct {
	mu      sync.Mutex
	entries []recentPDF
	bytes   int
}

type recentPDF struct {
	key  reportKey
	data []byte
	at   time.Time
}

func (r *recent) get(key reportKey, now time.Time) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expire(now)
	for _, e := range r.entries {
		if e.key == key {
			return e.data, true
		}
	}
	return nil, false
}

func (r *recent) put(key reportKey, data []byte, now time.Time) {
	if len(data) > recentMaxBytes {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expire(now)
	for i, e := range r.entries {
		if e.key == key {
			r.bytes -= len(e.data)
			r.entries = append(r.entries[:i], r.entries[i+1:]...)
			break
		}
	}
	r.entries = append(r.entries, recentPDF{key: key, data: data, at: now})
	r.bytes += len(data)
	for r.bytes > recentMaxBytes {
		r.drop()
	}
}

// expire drops the entries older than recentTTL: a prefix, entries are in the
// order they were put.
func (r *recent) expire(now time.Time) {
	for len(r.entries) > 0 && now.Sub(r.entries[0].at) > recentTTL {
		r.drop()
	}
}

func (r *recent) drop() {
	r.bytes -= len(r.entries[0].data)
	r.entries[0] = recentPDF{}
	r.entries = r.entries[1:]
}
