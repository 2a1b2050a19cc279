package invoicepdf_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/odoosim"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/invoicepdf"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/odooweb"
)

// fakeOdoo answers Odoo 16's login, health check and invoice report, and counts the
// report requests it receives and holds at once.
type fakeOdoo struct {
	server *httptest.Server
	// hold: each report request waits for a token on release before it answers.
	hold    bool
	release chan struct{}
	stop    chan struct{}
	arrived chan int // the invoice of each report request, as it arrives
	// store, when set, runs before a report is answered: Odoo storing the PDF.
	store func(invoiceID int, pdf []byte)

	mu          sync.Mutex
	reports     []int
	inFlight    int
	maxInFlight int
}

func newFakeOdoo(t *testing.T) *fakeOdoo {
	t.Helper()
	f := &fakeOdoo{release: make(chan struct{}), stop: make(chan struct{}), arrived: make(chan int, 100)}
	f.server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.server.Close)
	t.Cleanup(func() { close(f.stop) }) // first: a failed test leaves requests held
	return f
}

func reportOf(invoiceID int) []byte {
	return fmt.Appendf(nil, "%%PDF-1.4 Odoo's report of invoice %d", invoiceID)
}

func (f *fakeOdoo) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/web/session/authenticate":
		http.SetCookie(w, &http.Cookie{Name: "session_id", Value: "s1"})
		w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{"uid":2}}`))
	case r.URL.Path == "/web/health":
		w.Write([]byte(`{"status": "pass"}`))
	case strings.HasPrefix(r.URL.Path, "/report/pdf/account.report_invoice/"):
		id, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/report/pdf/account.report_invoice/"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		f.mu.Lock()
		f.reports = append(f.reports, id)
		f.inFlight++
		f.maxInFlight = max(f.maxInFlight, f.inFlight)
		f.mu.Unlock()
		f.arrived <- id
		if f.hold {
			select {
			case <-f.release:
			case <-f.stop:
				http.Error(w, "test over", http.StatusServiceUnavailable)
				return
			}
		}
		pdf := reportOf(id)
		if f.store != nil {
			f.store(id, pdf)
		}
		// Out of flight before the answer leaves: the client may ask again as
		// soon as it has read it.
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/pdf")
		w.Write(pdf)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeOdoo) reportRequests() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.reports)
}

// storeAsOdooDoes inserts the attachment Odoo 16 creates when it renders a posted
// invoice's report (ODOO_FACTS section 3).
func storeAsOdooDoes(t *testing.T, pool *pgxpool.Pool) func(int, []byte) {
	return func(id int, pdf []byte) {
		_, err := pool.Exec(context.Background(), `
			INSERT INTO ir_attachment (name, type, res_model, res_id, mimetype, db_datas)
			SELECT replace(name, '/', '_') || '.pdf', 'binary', 'account.move', id, 'application/pdf', $2
			FROM account_move WHERE id = $1 AND state = 'posted'`, id, pdf)
		if err != nil {
			t.Errorf("store the report as Odoo does: %v", err)
		}
	}
}

// fakeClock is time that moves only when the test says so. Each After reports its
// duration on set.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []fakeTimer
	set    chan time.Duration
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), set: make(chan time.Duration, 100)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.mu.Lock()
	c.timers = append(c.timers, fakeTimer{at: c.now.Add(d), ch: ch})
	c.mu.Unlock()
	c.set <- d
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.timers = slices.DeleteFunc(c.timers, func(tm fakeTimer) bool {
		if tm.at.After(c.now) {
			return false
		}
		tm.ch <- c.now
		return true
	})
}

// fixedProbe says Odoo answers every probe in d.
func fixedProbe(d time.Duration) func(context.Context) (time.Duration, error) {
	return func(context.Context) (time.Duration, error) { return d, nil }
}

// scriptedProbe hands each probe to the test, which answers it with a latency.
type scriptedProbe chan chan time.Duration

func (p scriptedProbe) probe(ctx context.Context) (time.Duration, error) {
	answer := make(chan time.Duration)
	select {
	case p <- answer:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return <-answer, nil
}

// answer waits for the next probe and answers it; done is the call that should
// probe, which must not end first.
func (p scriptedProbe) answer(t *testing.T, latency time.Duration, done <-chan result) {
	t.Helper()
	select {
	case answer := <-p:
		answer <- latency
	case r := <-done:
		t.Fatalf("the call ended (%s, %v) before it probed Odoo", r.pdf.Origin, r.err)
	case <-time.After(30 * time.Second):
		t.Fatal("timed out waiting for a probe")
	}
}

// recv waits for a value on ch; the deadline only bounds a failing test.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

type result struct {
	pdf invoicepdf.PDF
	err error
}

// invoiceAsync runs src.Invoice in a goroutine the test waits for.
func invoiceAsync(t *testing.T, src *invoicepdf.Source, pool *pgxpool.Pool, id int) <-chan result {
	done := make(chan result, 1)
	go func() {
		pdf, err := src.Invoice(context.Background(), pool, id)
		done <- result{pdf, err}
	}()
	return done
}

func mustInvoice(t *testing.T, src *invoicepdf.Source, pool *pgxpool.Pool, id int, wantOrigin string) invoicepdf.PDF {
	t.Helper()
	pdf, err := src.Invoice(context.Background(), pool, id)
	if err != nil {
		t.Fatal(err)
	}
	if pdf.Origin != wantOrigin {
		t.Fatalf("invoice %d: the PDF came from %s, want %s", id, pdf.Origin, wantOrigin)
	}
	return pdf
}

func odooClient(f *fakeOdoo) *odooweb.Client {
	return &odooweb.Client{URL: f.server.URL, DB: "odoo16", User: "admin", Password: "admin"}
}

// Odoo renders an invoice's report once, however many sends need it at once.
func TestOneReportRequestPerInvoice(t *testing.T) {
	t.Parallel()

	t.Run("ConcurrentCallsShareOneRequestThenOdoosAttachment", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t, pgtest.Sidecar)
		pool := db.Pool(t)
		odoo := newFakeOdoo(t)
		odoo.hold = true
		odoo.store = storeAsOdooDoes(t, pool)
		joined := make(chan struct{}, 10)
		// Two slots: without the shared request, the second call would reach Odoo.
		src := &invoicepdf.Source{Odoo: odooClient(odoo), MaxConcurrentReports: 2}
		invoicepdf.SetTestDoubles(src, newFakeClock(), fixedProbe(5*time.Millisecond),
			invoicepdf.Hooks{Joined: func() { joined <- struct{}{} }})

		first := invoiceAsync(t, src, pool, odoosim.InvoiceNotPaid)
		recv(t, odoo.arrived, "the first call's report request")
		second := invoiceAsync(t, src, pool, odoosim.InvoiceNotPaid)
		select {
		case <-joined:
		case id := <-odoo.arrived:
			t.Fatalf("a second report request for invoice %d reached Odoo", id)
		case <-time.After(30 * time.Second):
			t.Fatal("timed out waiting for the second call")
		}
		odoo.release <- struct{}{}
		for _, done := range []<-chan result{first, second} {
			r := recv(t, done, "a call's PDF")
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.pdf.Origin != "odoo_report" || !bytes.Equal(r.pdf.Data, reportOf(odoosim.InvoiceNotPaid)) {
				t.Fatalf("got %s %q, want Odoo's report", r.pdf.Origin, r.pdf.Data)
			}
		}
		// Odoo stored the PDF of the posted invoice: the next call reads it there.
		later := mustInvoice(t, src, pool, odoosim.InvoiceNotPaid, "attachment")
		if !bytes.Equal(later.Data, reportOf(odoosim.InvoiceNotPaid)) {
			t.Errorf("the stored PDF is not the one Odoo rendered")
		}
		if got := odoo.reportRequests(); len(got) != 1 {
			t.Errorf("Odoo received report requests %v, want one", got)
		}
	})

	t.Run("AReportOdooDidNotStoreIsKeptForAWhile", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t, pgtest.Sidecar)
		pool := db.Pool(t)
		odoo := newFakeOdoo(t) // stores nothing, as for a draft
		clock := newFakeClock()
		src := &invoicepdf.Source{Odoo: odooClient(odoo)}
		invoicepdf.SetTestDoubles(src, clock, fixedProbe(5*time.Millisecond), invoicepdf.Hooks{})

		mustInvoice(t, src, pool, odoosim.InvoiceNotPaid, "odoo_report")
		again := mustInvoice(t, src, pool, odoosim.InvoiceNotPaid, "odoo_report")
		if !bytes.Equal(again.Data, reportOf(odoosim.InvoiceNotPaid)) {
			t.Errorf("the kept PDF is not Odoo's")
		}
		if got := odoo.reportRequests(); len(got) != 1 {
			t.Fatalf("Odoo received report requests %v, want one", got)
		}
		// Another version of the invoice is another PDF.
		db.Exec(t, `UPDATE account_move SET write_date = write_date + interval '1 second' WHERE id = $1`, odoosim.InvoiceNotPaid)
		mustInvoice(t, src, pool, odoosim.InvoiceNotPaid, "odoo_report")
		if got := odoo.reportRequests(); len(got) != 2 {
			t.Fatalf("after a write Odoo received report requests %v, want two", got)
		}
		// And the kept PDF is forgotten after a while.
		clock.Advance(invoicepdf.RecentTTL + time.Second)
		mustInvoice(t, src, pool, odoosim.InvoiceNotPaid, "odoo_report")
		if got := odoo.reportRequests(); len(got) != 3 {
			t.Fatalf("after %s Odoo received report requests %v, want three", invoicepdf.RecentTTL, got)
		}
	})
}

// However many invoices are sent at once, Odoo holds at most MaxConcurrentReports
// of the sidecar's report requests.
func TestReportRequestsAreBounded(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, pgtest.Sidecar)
	pool := db.Pool(t)
	odoo := newFakeOdoo(t)
	odoo.hold = true
	waiting := make(chan struct{}, 100)
	const slots = 2
	src := &invoicepdf.Source{Odoo: odooClient(odoo), MaxConcurrentReports: slots}
	invoicepdf.SetTestDoubles(src, newFakeClock(), fixedProbe(5*time.Millisecond),
		invoicepdf.Hooks{WaitingForSlot: func() { waiting <- struct{}{} }})

	invoices := []int{1, 2, 3, 4, 16, 17, 18, 19}
	done := make(map[int]<-chan result)
	for _, id := range invoices {
		done[id] = invoiceAsync(t, src, pool, id)
	}
	// Every call is either at Odoo or waiting for a slot before any answer.
	arrived, queued := 0, 0
	for arrived+queued < len(invoices) {
		select {
		case <-odoo.arrived:
			if arrived++; arrived > slots {
				t.Fatalf("%d report requests at Odoo at once, want at most %d", arrived, slots)
			}
		case <-waiting:
			queued++
		case <-time.After(30 * time.Second):
			t.Fatalf("timed out: %d report requests at Odoo, %d calls waiting", arrived, queued)
		}
	}
	// Each answer lets one waiting call in.
	for range invoices {
		odoo.release <- struct{}{}
		if arrived < len(invoices) {
			recv(t, odoo.arrived, "the next report request")
			arrived++
		}
	}
	for _, id := range invoices {
		r := recv(t, done[id], "a call's PDF")
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.pdf.Origin != "odoo_report" || !bytes.Equal(r.pdf.Data, reportOf(id)) {
			t.Errorf("invoice %d: got %s %q, want its own report from Odoo", id, r.pdf.Origin, r.pdf.Data)
		}
	}
	odoo.mu.Lock()
	defer odoo.mu.Unlock()
	if odoo.maxInFlight != slots || len(odoo.reports) != len(invoices) {
		t.Errorf("Odoo held up to %d report requests at once and received %d, want %d and %d",
			odoo.maxInFlight, len(odoo.reports), slots, len(invoices))
	}
}

// A report request never joins the queue of Odoo's users.
func TestNoReportWhileOdooIsBusy(t *testing.T) {
	t.Parallel()

	// setup: a Source whose baseline is one 5 ms answer, learnt while invoice 31's
	// report was fetched.
	setup := func(t *testing.T) (*invoicepdf.Source, *pgxpool.Pool, *fakeOdoo, *fakeClock, scriptedProbe, *warnings) {
		db := pgtest.NewDB(t, pgtest.Sidecar)
		pool := db.Pool(t)
		odoo := newFakeOdoo(t)
		clock := newFakeClock()
		probe := make(scriptedProbe)
		log := &warnings{}
		src := &invoicepdf.Source{Odoo: odooClient(odoo), Logger: slog.New(log)}
		invoicepdf.SetTestDoubles(src, clock, probe.probe, invoicepdf.Hooks{})
		done := invoiceAsync(t, src, pool, odoosim.InvoiceNotPaid)
		probe.answer(t, 5*time.Millisecond, done)
		if r := recv(t, done, "invoice 31's PDF"); r.err != nil || r.pdf.Origin != "odoo_report" {
			t.Fatalf("got %s, %v; want Odoo's report", r.pdf.Origin, r.err)
		}
		return src, pool, odoo, clock, probe, log
	}

	t.Run("ReportOnceOdooAnswersAsUsualAgain", func(t *testing.T) {
		t.Parallel()
		src, pool, odoo, clock, probe, _ := setup(t)
		done := invoiceAsync(t, src, pool, odoosim.InvoicePartPaid)
		var pauses []time.Duration
		for _, slow := range []time.Duration{400 * time.Millisecond, 300 * time.Millisecond} {
			probe.answer(t, slow, done)
			pause := recv(t, (<-chan time.Duration)(clock.set), "a pause")
			if got := odoo.reportRequests(); len(got) != 1 {
				t.Fatalf("Odoo received report requests %v while it answered in %s against a usual 5ms", got, slow)
			}
			pauses = append(pauses, pause)
			clock.Advance(pause)
		}
		probe.answer(t, 6*time.Millisecond, done)
		r := recv(t, done, "invoice 32's PDF")
		if r.err != nil || r.pdf.Origin != "odoo_report" {
			t.Fatalf("got %s, %v; want Odoo's report", r.pdf.Origin, r.err)
		}
		if got := odoo.reportRequests(); !slices.Equal(got, []int{odoosim.InvoiceNotPaid, odoosim.InvoicePartPaid}) {
			t.Errorf("Odoo received report requests %v, want 31 then 32", got)
		}
		if want := []time.Duration{invoicepdf.FirstPause, 2 * invoicepdf.FirstPause}; !slices.Equal(pauses, want) {
			t.Errorf("paused %v between probes, want %v", pauses, want)
		}
	})

	t.Run("RenderedHereWhenOdooStaysBusy", func(t *testing.T) {
		t.Parallel()
		src, pool, odoo, clock, probe, log := setup(t)
		done := invoiceAsync(t, src, pool, odoosim.InvoicePartPaid)
		var waited time.Duration
		var r result
	wait:
		for {
			select {
			case answer := <-probe:
				answer <- 2 * time.Second
			case pause := <-clock.set:
				if pause > invoicepdf.MaxPause {
					t.Errorf("paused %s, want at most %s", pause, invoicepdf.MaxPause)
				}
				waited += pause
				clock.Advance(pause)
			case r = <-done:
				break wait
			case <-time.After(30 * time.Second):
				t.Fatal("timed out waiting for invoice 32's PDF")
			}
		}
		if r.err != nil || r.pdf.Origin != "rendered" {
			t.Fatalf("got %s, %v; want the PDF rendered here", r.pdf.Origin, r.err)
		}
		if waited != invoicepdf.ReportWait {
			t.Errorf("waited %s for Odoo, want %s", waited, invoicepdf.ReportWait)
		}
		if got := odoo.reportRequests(); len(got) != 1 {
			t.Errorf("Odoo received report requests %v, want only invoice 31's", got)
		}
		if !slices.ContainsFunc(log.lines(), func(l string) bool {
			return strings.Contains(l, "rendering it here: INV/2026/00006")
		}) {
			t.Errorf("no warning names invoice 32 as rendered here; warnings: %q", log.lines())
		}

		// The same busy spell: the next invoice does not wait again.
		done = invoiceAsync(t, src, pool, odoosim.InvoicePaid)
		probe.answer(t, 2*time.Second, done)
		select {
		case r := <-done:
			if r.err != nil || r.pdf.Origin != "rendered" {
				t.Fatalf("got %s, %v; want the PDF rendered here at once", r.pdf.Origin, r.err)
			}
		case pause := <-clock.set:
			t.Fatalf("invoice 33 paused %s in a busy spell already %s long", pause, invoicepdf.ReportWait)
		case <-time.After(30 * time.Second):
			t.Fatal("timed out waiting for invoice 33's PDF")
		}
		if got := odoo.reportRequests(); len(got) != 1 {
			t.Errorf("Odoo received report requests %v, want only invoice 31's", got)
		}
	})
}

// warnings records the warnings a Source logs, each as its message and invoice.
type warnings struct {
	mu  sync.Mutex
	got []string
}

func (w *warnings) Enabled(_ context.Context, level slog.Level) bool { return level == slog.LevelWarn }

func (w *warnings) Handle(_ context.Context, r slog.Record) error {
	line := r.Message
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "invoice" {
			line += ": " + a.Value.String()
		}
		return true
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	w.got = append(w.got, line)
	return nil
}

func (w *warnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnings) WithGroup(string) slog.Handler      { return w }

func (w *warnings) lines() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.got)
}
