package invoicepdf_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/odoosim"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/invoicepdf"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/odooweb"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// The PDF a user would get from Odoo, in Odoo's order of preference: the stored
// attachment (database, then filestore), Odoo's report, and only then our own.
func TestInvoicePDFSources(t *testing.T) {
	t.Parallel()
	stored := []byte("%PDF-1.4 stored by Odoo")
	cases := []struct {
		name       string
		prepare    func(t *testing.T, db *pgtest.DB, src *invoicepdf.Source)
		wantOrigin string
		want       []byte
	}{
		{"RenderedWhenOdooHasNone", func(*testing.T, *pgtest.DB, *invoicepdf.Source) {}, "rendered", nil},
		{"AttachmentInTheDatabase", func(t *testing.T, db *pgtest.DB, _ *invoicepdf.Source) {
			db.Exec(t, `INSERT INTO ir_attachment (name, type, res_model, res_id, mimetype, db_datas)
				VALUES ('INV_2026_00005.pdf', 'binary', 'account.move', 31, 'application/pdf', $1)`, stored)
		}, "attachment", stored},
		{"AttachmentInTheFilestore", func(t *testing.T, db *pgtest.DB, src *invoicepdf.Source) {
			src.DataDir = t.TempDir()
			path := filepath.Join(src.DataDir, "filestore", db.Name, "ab", "abcdef")
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, stored, 0o644); err != nil {
				t.Fatal(err)
			}
			db.Exec(t, `INSERT INTO ir_attachment (name, type, res_model, res_id, mimetype, store_fname)
				VALUES ('INV_2026_00005.pdf', 'binary', 'account.move', 31, 'application/pdf', 'ab/abcdef')`)
		}, "filestore", stored},
		{"OdoosOwnReport", func(t *testing.T, _ *pgtest.DB, src *invoicepdf.Source) {
			odoo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/web/session/authenticate":
					w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{"uid":2}}`))
				case "/web/health":
					w.Write([]byte(`{"status": "pass"}`))
				case "/report/pdf/account.report_invoice/31":
					w.Header().Set("Content-Type", "application/pdf")
					w.Write(stored)
				default:
					http.NotFound(w, r)
				}
			}))
			t.Cleanup(odoo.Close)
			src.Odoo = &odooweb.Client{URL: odoo.URL, DB: "odoo16", User: "admin", Password: "admin"}
			// Odoo's real health check, but a usual time whatever the machine's load.
			invoicepdf.SetTestDoubles(src, nil, func(ctx context.Context) (time.Duration, error) {
				_, err := src.Odoo.Ping(ctx)
				return 5 * time.Millisecond, err
			}, invoicepdf.Hooks{})
		}, "odoo_report", stored},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			db := pgtest.NewDB(t, pgtest.Sidecar)
			src := &invoicepdf.Source{}
			c.prepare(t, db, src)
			pdf, err := src.Invoice(context.Background(), db.Pool(t), odoosim.InvoiceNotPaid)
			if err != nil {
				t.Fatal(err)
			}
			if pdf.Origin != c.wantOrigin || pdf.Filename != "INV_2026_00005.pdf" || !bytes.HasPrefix(pdf.Data, []byte("%PDF")) {
				t.Fatalf("got %s %s (%d bytes), want %s INV_2026_00005.pdf, a PDF", pdf.Origin, pdf.Filename, len(pdf.Data), c.wantOrigin)
			}
			if c.want != nil && !bytes.Equal(pdf.Data, c.want) {
				t.Errorf("the PDF is not the one Odoo holds")
			}
		})
	}
}
