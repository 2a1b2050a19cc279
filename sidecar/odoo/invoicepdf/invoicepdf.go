// Package invoicepdf finds an invoice's PDF the way a user would get it from Odoo:
// the PDF Odoo already stored as an attachment (in the database or in its filestore),
// else Odoo's own report over HTTP when Odoo's URL and credentials are configured,
// else a clean PDF rendered here (company, customer, lines, taxes, totals, due date).
// The sender uploads it to Meta and sends it by media id, so no public URL is needed.
//
// The report is the one source that costs Odoo's users something: it is asked for
// once per invoice, a bounded number at a time, and never while Odoo answers slower
// than usual (report.go, gate.go); past a bound the PDF is rendered here instead.
package invoicepdf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/odooweb"
)

// PDF is an invoice document.
type PDF struct {
	Filename string // INV_2026_00005.pdf, as Odoo names the attachment
	Data     []byte
	Origin   string // attachment, filestore, odoo_report or rendered
}

// Source finds invoice PDFs. It is safe for concurrent use; its fields must not
// change after the first Invoice call.
type Source struct {
	// DataDir is Odoo's data_dir; attachments live in DataDir/filestore/<db>/.
	DataDir string
	// Odoo, when set, renders Odoo's own report over HTTP.
	Odoo *odooweb.Client
	// Report is Odoo's report name; empty means account.report_invoice.
	Report string
	// MaxConcurrentReports bounds the report requests at Odoo at once, all
	// invoices together; zero means 1. Each holds one of Odoo's workers for
	// seconds, and more while wkhtmltopdf fetches the report's CSS and fonts
	// from Odoo.
	MaxConcurrentReports int
	Logger               *slog.Logger

	once    sync.Once
	logger  *slog.Logger
	slots   chan struct{} // one token per report request at Odoo
	flights flights
	recent  recent
	gate    gate

	// Replaced by tests only (export_test.go), before the first call.
	clock clock
	probe func(context.Context) (time.Duration, error)
	hooks hooks
}

// hooks tell tests where calls wait; no-ops in production.
type hooks struct {
	Joined         func() // a call waits for another call's request for the same invoice
	WaitingForSlot func() // a call waits for a free report slot
}

func (h hooks) joined() {
	if h.Joined != nil {
		h.Joined()
	}
}

func (h hooks) waitingForSlot() {
	if h.WaitingForSlot != nil {
		h.WaitingForSlot()
	}
}

func (s *Source) init() {
	s.once.Do(func() {
		s.logger = s.Logger
		if s.logger == nil {
			s.logger = slog.New(slog.DiscardHandler)
		}
		s.slots = make(chan struct{}, max(s.MaxConcurrentReports, 1))
		if s.clock == nil {
			s.clock = realClock{}
		}
		if s.probe == nil && s.Odoo != nil {
			s.probe = func(ctx context.Context) (time.Duration, error) {
				ctx, cancel := context.WithTimeout(ctx, probeTimeout)
				defer cancel()
				return s.Odoo.Ping(ctx)
			}
		}
		s.gate = gate{clock: s.clock, probe: s.probe}
	})
}

// Filename is Odoo's attachment name for an invoice: its name with / replaced by _.
func Filename(invoiceName string) string {
	if invoiceName == "" || invoiceName == "/" {
		invoiceName = "INV"
	}
	return strings.ReplaceAll(invoiceName, "/", "_") + ".pdf"
}

// Invoice returns the PDF of invoice id. Its Data may be shared with other calls:
// read it, never change it.
func (s *Source) Invoice(ctx context.Context, q odoo.DBTX, id int) (PDF, error) {
	s.init()
	inv, found, err := odoo.GetInvoice(ctx, q, id)
	if err != nil {
		return PDF{}, err
	}
	if !found {
		return PDF{}, fmt.Errorf("invoice %d: not found", id)
	}
	filename := Filename(inv.Name)
	logger := s.logger

	attachmentID, stored, err := odoo.InvoicePDFAttachment(ctx, q, id, filename)
	if err != nil {
		return PDF{}, err
	}
	if stored {
		a, err := odoo.ReadAttachment(ctx, q, s.DataDir, attachmentID, odoo.Record{Model: "account.move", ID: id})
		if err == nil {
			origin := "attachment"
			if a.FromFilestore {
				origin = "filestore"
			}
			return PDF{Filename: filename, Data: a.Data, Origin: origin}, nil
		}
		logger.Warn("the invoice's stored PDF cannot be read, trying the next source", "invoice", inv.Name, "err", err)
	}

	if s.Odoo != nil {
		data, rerr := s.odooReport(ctx, q, id)
		switch {
		case rerr == nil:
			return PDF{Filename: filename, Data: data, Origin: "odoo_report"}, nil
		case ctx.Err() != nil:
			return PDF{}, fmt.Errorf("invoice %s's PDF from Odoo: %w", inv.Name, rerr)
		case errors.Is(rerr, errOdooBusy), errors.Is(rerr, errReportQueue):
			logger.Warn("not asking Odoo for the invoice's report while its users wait: rendering it here",
				"invoice", inv.Name, "err", rerr)
		default:
			logger.Warn("Odoo could not render the invoice, rendering it here", "invoice", inv.Name, "err", rerr)
		}
	}

	lines, err := odoo.InvoiceLines(ctx, q, id)
	if err != nil {
		return PDF{}, err
	}
	data, err := Render(inv, lines)
	if err != nil {
		return PDF{}, fmt.Errorf("render %s: %w", inv.Name, err)
	}
	return PDF{Filename: filename, Data: data, Origin: "rendered"}, nil
}
