package invoicepdf_test

import (
	"math/big"
	"testing"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/invoicepdf"
)

// BenchmarkRender is the sidecar's own PDF of a one-line invoice (no ODOO_URL): the
// CPU each invoice notification costs beside Odoo.
func BenchmarkRender(b *testing.B) {
	inv := &notify.Invoice{Name: "INV/2026/00042", MoveType: "out_invoice", InvoiceDate: "2026-12-01", DueDate: "2026-12-31",
		Company: notify.Company{Name: "Boutique Dakar"}, Partner: notify.Partner{Name: "Awa Ndiaye"},
		Currency: notify.Currency{Name: "XOF"}, Untaxed: big.NewRat(378, 1), Tax: big.NewRat(0, 1), Total: big.NewRat(378, 1),
		Residual: big.NewRat(378, 1)}
	lines := []notify.Line{{Name: "[E-COM07] Large Cabinet", Quantity: big.NewRat(1, 1), PriceUnit: big.NewRat(378, 1),
		Subtotal: big.NewRat(378, 1), Total: big.NewRat(378, 1)}}
	for b.Loop() {
		if _, err := invoicepdf.Render(inv, lines); err != nil {
			b.Fatal(err)
		}
	}
}
