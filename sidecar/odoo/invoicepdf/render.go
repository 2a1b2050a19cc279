package invoicepdf

import (
	"bytes"
	"fmt"
	"math/big"

	"github.com/go-pdf/fpdf"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify/texts"
)

// Render draws an invoice on one A4 page (more when the lines need it): the company,
// the customer, the invoice's number and dates, its lines, the untaxed amount, taxes,
// total and amount due. French labels: the seed's customers read French.
func Render(inv *notify.Invoice, lines []notify.Line) ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetTitle(inv.Name, true)
	pdf.SetCreator("whatsapp-sidecar", true)
	pdf.SetMargins(18, 18, 18)
	pdf.SetAutoPageBreak(true, 20)
	tr := pdf.UnicodeTranslatorFromDescriptor("") // UTF-8 to the core fonts' cp1252
	m := func(r *big.Rat) string { return tr(texts.Money(r, inv.Currency, texts.French)) }

	pdf.AddPage()
	pdf.SetFont("Helvetica", "B", 16)
	pdf.CellFormat(0, 8, tr(inv.Company.Name), "", 1, "L", false, 0, "")
	pdf.Ln(6)

	title := "Facture"
	if inv.MoveType == "out_refund" {
		title = "Avoir"
	}
	pdf.SetFont("Helvetica", "B", 20)
	pdf.CellFormat(0, 10, tr(title+" "+inv.Name), "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 10)
	if inv.InvoiceDate != "" {
		pdf.CellFormat(0, 5, tr("Date de facturation : "+texts.Date(inv.InvoiceDate, texts.French)), "", 1, "L", false, 0, "")
	}
	if inv.DueDate != "" {
		pdf.CellFormat(0, 5, tr("Date d'échéance : "+texts.Date(inv.DueDate, texts.French)), "", 1, "L", false, 0, "")
	}
	if inv.Origin != "" {
		pdf.CellFormat(0, 5, tr("Origine : "+inv.Origin), "", 1, "L", false, 0, "")
	}
	pdf.Ln(4)
	pdf.SetFont("Helvetica", "B", 11)
	pdf.CellFormat(0, 6, tr("Client : "+inv.Partner.Name), "", 1, "L", false, 0, "")
	pdf.Ln(6)

	// Lines.
	widths := []float64{86, 20, 32, 36}
	pdf.SetFont("Helvetica", "B", 10)
	pdf.SetFillColor(235, 235, 235)
	for i, h := range []string{"Description", "Quantité", "Prix unitaire", "Montant HT"} {
		align := "R"
		if i == 0 {
			align = "L"
		}
		pdf.CellFormat(widths[i], 7, tr(h), "B", 0, align, true, 0, "")
	}
	pdf.Ln(-1)
	pdf.SetFont("Helvetica", "", 10)
	for _, l := range lines {
		pdf.CellFormat(widths[0], 6, tr(truncateRunes(l.Name, 48)), "", 0, "L", false, 0, "")
		pdf.CellFormat(widths[1], 6, l.Quantity.FloatString(2), "", 0, "R", false, 0, "")
		pdf.CellFormat(widths[2], 6, m(l.PriceUnit), "", 0, "R", false, 0, "")
		pdf.CellFormat(widths[3], 6, m(l.Subtotal), "", 1, "R", false, 0, "")
	}
	pdf.Ln(4)

	// Totals.
	total := func(label string, v *big.Rat, bold bool) {
		style := ""
		if bold {
			style = "B"
		}
		pdf.SetFont("Helvetica", style, 10)
		pdf.CellFormat(widths[0]+widths[1], 6, "", "", 0, "L", false, 0, "")
		pdf.CellFormat(widths[2], 6, tr(label), "", 0, "R", false, 0, "")
		pdf.CellFormat(widths[3], 6, m(v), "", 1, "R", false, 0, "")
	}
	total("Montant HT", inv.Untaxed, false)
	total("Taxes", inv.Tax, false)
	total("Total", inv.Total, true)
	total("Montant dû", inv.Residual, true)

	if inv.Name != "" {
		pdf.Ln(8)
		pdf.SetFont("Helvetica", "", 9)
		pdf.MultiCell(0, 5, tr(fmt.Sprintf("Merci d'indiquer la référence %s lors de votre paiement.", inv.Name)), "", "L", false)
	}
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func truncateRunes(s string, max int) string {
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max-1]) + "…"
}
