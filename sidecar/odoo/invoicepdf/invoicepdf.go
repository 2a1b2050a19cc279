// Package invoicepdf finds an invoice's PDF the way a user would get it from Odoo:
// the PDF Odoo already stored as an attachment (in the database or in its filestore),
// else Odoo's own report over HTTP when Odoo's URL and credentials are configured,
// else a clean PDF rendered here (company, customer, lines, taxes, totals, due date).
// The sender uploads it to Meta and sends it by media id, so no public URL is needed.
package invoicepdf

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/odooweb"
)

// PDF is an invoice document.
type PDF struct {
	Filename string // INV_2026_00005.pdf, as Odoo names the attachment
	Data     []byte
	Origin   string // attachment, filestore, odoo_report or rendered
}

// Source finds invoice PDFs.
type Source struct {
	// DataDir is Odoo's data_dir; attachments live in DataDir/filestore/<db>/.
	DataDir string
	// Odoo, when set, renders Odoo's own report over HTTP.
	Odoo *odooweb.Client
	// Report is Odoo's report name; empty means account.report_invoice.
	Report string
	Logger *slog.Logger
}

// Filename is Odoo's attachment name for an invoice: its name with / replaced by _.
func Filename(invoiceName string) string {
	if invoiceName == "" || invoiceName == "/" {
		invoiceName = "INV"
	}
	return strings.ReplaceAll(invoiceName, "/", "_") + ".pdf"
}

// Invoice returns the PDF of invoice id.
func (s *Source) Invoice(ctx context.Context, q odoo.DBTX, id int) (PDF, error) {
	inv, found, err := odoo.GetInvoice(ctx, q, id)
	if err != nil {
		return PDF{}, err
	}
	if !found {
		return PDF{}, fmt.Errorf("invoice %d: not found", id)
	}
	filename := Filename(inv.Name)
	logger := s.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

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
		report := s.Report
		if report == "" {
			report = "account.report_invoice"
		}
		data, rerr := s.Odoo.ReportPDF(ctx, report, id)
		if rerr == nil {
			return PDF{Filename: filename, Data: data, Origin: "odoo_report"}, nil
		}
		logger.Warn("Odoo could not render the invoice, rendering it here", "invoice", inv.Name, "err", rerr)
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
