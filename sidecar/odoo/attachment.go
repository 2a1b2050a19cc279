package odoo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5"
)

// Attachment is an ir_attachment's content.
type Attachment struct {
	ID       int
	Name     string
	MimeType string
	Data     []byte
	// FromFilestore says the bytes came from Odoo's filestore, not db_datas.
	FromFilestore bool
}

// ErrNoAttachment is returned when the attachment does not exist.
var ErrNoAttachment = errors.New("no such attachment")

// ReadAttachment reads attachment id's bytes as Odoo does: db_datas when set, else
// the filestore, <dataDir>/filestore/<database>/<store_fname>.
func ReadAttachment(ctx context.Context, q DBTX, dataDir string, id int) (Attachment, error) {
	a := Attachment{ID: id}
	var storeFname, dbName string
	err := q.QueryRow(ctx, `
		SELECT name, COALESCE(mimetype, 'application/octet-stream'), db_datas, COALESCE(store_fname, ''), current_database()
		FROM ir_attachment WHERE id = $1`, id).Scan(&a.Name, &a.MimeType, &a.Data, &storeFname, &dbName)
	if errors.Is(err, pgx.ErrNoRows) {
		return Attachment{}, fmt.Errorf("attachment %d: %w", id, ErrNoAttachment)
	}
	if err != nil {
		return Attachment{}, fmt.Errorf("read attachment %d: %w", id, err)
	}
	if len(a.Data) > 0 {
		return a, nil
	}
	if storeFname == "" {
		return Attachment{}, fmt.Errorf("attachment %d (%s) has no content", id, a.Name)
	}
	if dataDir == "" {
		return Attachment{}, fmt.Errorf("attachment %d (%s) is in Odoo's filestore: set ODOO_DATA_DIR so the sidecar can read it", id, a.Name)
	}
	data, err := os.ReadFile(filepath.Join(dataDir, "filestore", dbName, filepath.FromSlash(storeFname)))
	if err != nil {
		return Attachment{}, fmt.Errorf("attachment %d (%s): %w", id, a.Name, err)
	}
	a.Data, a.FromFilestore = data, true
	return a, nil
}

// InvoicePDFAttachment finds the PDF Odoo stored for an invoice, preferring the
// one named as Odoo names it (INV_2026_00005.pdf); found is false when there is none.
func InvoicePDFAttachment(ctx context.Context, q DBTX, invoiceID int, name string) (id int, found bool, err error) {
	err = q.QueryRow(ctx, `
		SELECT id FROM ir_attachment
		WHERE res_model = 'account.move' AND res_id = $1 AND mimetype = 'application/pdf' AND res_field IS NULL
		ORDER BY (name = $2) DESC, id DESC
		LIMIT 1`, invoiceID, name).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("look up the PDF of invoice %d: %w", invoiceID, err)
	}
	return id, true, nil
}
