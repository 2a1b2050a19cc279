package odoo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

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

// Record names an Odoo record, as ir_attachment.res_model and res_id do.
type Record struct {
	Model string
	ID    int
}

func (r Record) String() string { return r.Model + " " + strconv.Itoa(r.ID) }

// ErrNoAttachment is returned when the attachment does not exist.
var ErrNoAttachment = errors.New("no such attachment")

// ErrForeignAttachment is returned when the attachment belongs to none of the
// records it was read for: a row naming any attachment id must not make the
// sidecar send another customer's invoice.
var ErrForeignAttachment = errors.New("refused as another record's attachment")

// ErrFilestorePath is returned when an attachment's store_fname would lead out of
// the database's filestore directory.
var ErrFilestorePath = errors.New("store_fname outside the filestore")

const attachmentQuery = `
SELECT name, COALESCE(mimetype, 'application/octet-stream'), COALESCE(res_model, ''), COALESCE(res_id, 0),
    COALESCE(length(db_datas), 0), COALESCE(store_fname, ''), current_database()
FROM ir_attachment WHERE id = $1`

const attachmentDataQuery = `SELECT db_datas FROM ir_attachment WHERE id = $1`

// ReadAttachment reads attachment id's bytes as Odoo does, db_datas when set, else
// the filestore, <dataDir>/filestore/<database>/<store_fname>; but only when the
// attachment belongs to one of owners (its res_model and res_id; owners with no
// model or id are ignored): else the error
// is ErrForeignAttachment, and nothing of its content is read. A store_fname that
// is absolute or holds ".." is refused with ErrFilestorePath, one that reaches
// through a symlink out of the database's filestore by os.Root.
func ReadAttachment(ctx context.Context, q DBTX, dataDir string, id int, owners ...Record) (Attachment, error) {
	a := Attachment{ID: id}
	var owner Record
	var dbSize int
	var storeFname, dbName string
	err := q.QueryRow(ctx, attachmentQuery, id).Scan(&a.Name, &a.MimeType, &owner.Model, &owner.ID, &dbSize, &storeFname, &dbName)
	if errors.Is(err, pgx.ErrNoRows) {
		return Attachment{}, fmt.Errorf("attachment %d: %w", id, ErrNoAttachment)
	}
	if err != nil {
		return Attachment{}, fmt.Errorf("read attachment %d: %w", id, err)
	}
	// An owner without a model or id names no record (a message about none):
	// it must not match an attachment attached to nothing.
	owners = slices.DeleteFunc(slices.Clone(owners), func(r Record) bool { return r.Model == "" || r.ID == 0 })
	if owner.Model == "" || owner.ID == 0 || !slices.Contains(owners, owner) {
		whose := "no record"
		if owner.Model != "" && owner.ID != 0 {
			whose = owner.String()
		}
		return Attachment{}, fmt.Errorf("attachment %d (%s) is attached to %s, not to %s: %w",
			id, a.Name, whose, joinRecords(owners), ErrForeignAttachment)
	}
	if dbSize > 0 {
		if err := q.QueryRow(ctx, attachmentDataQuery, id).Scan(&a.Data); err != nil {
			return Attachment{}, fmt.Errorf("read attachment %d: %w", id, err)
		}
		return a, nil
	}
	if storeFname == "" {
		return Attachment{}, fmt.Errorf("attachment %d (%s) has no content", id, a.Name)
	}
	if dataDir == "" {
		return Attachment{}, fmt.Errorf("attachment %d (%s) is in Odoo's filestore: set ODOO_DATA_DIR so the sidecar can read it", id, a.Name)
	}
	data, err := readFilestore(filepath.Join(dataDir, "filestore"), dbName, storeFname)
	if err != nil {
		return Attachment{}, fmt.Errorf("attachment %d (%s): %w", id, a.Name, err)
	}
	a.Data, a.FromFilestore = data, true
	return a, nil
}

// joinRecords lists records for an error: "sale.order 26 or whatsapp.message 7".
func joinRecords(records []Record) string {
	if len(records) == 0 {
		return "any record it may be sent for"
	}
	names := make([]string, len(records))
	for i, r := range records {
		names[i] = r.String()
	}
	return strings.Join(names, " or ")
}

// readFilestore reads storeFname inside filestore/dbName, and nothing outside it:
// the path is checked lexically (relative, no ".." element), then opened through
// an os.Root, which also refuses symlinks leading out; only a regular file is read.
func readFilestore(filestore, dbName, storeFname string) ([]byte, error) {
	if dbName == "" || dbName == "." || dbName == ".." || strings.ContainsAny(dbName, `/\`) {
		return nil, fmt.Errorf("database name %q cannot name a filestore directory: %w", dbName, ErrFilestorePath)
	}
	if !filepath.IsLocal(storeFname) || slices.Contains(strings.Split(filepath.ToSlash(storeFname), "/"), "..") {
		return nil, fmt.Errorf("store_fname %q: %w", storeFname, ErrFilestorePath)
	}
	root, err := os.OpenRoot(filepath.Join(filestore, dbName))
	if err != nil {
		return nil, fmt.Errorf("open the filestore: %w", err)
	}
	defer root.Close()
	f, err := root.Open(filepath.FromSlash(storeFname))
	if err != nil {
		// A symlink out of the filestore is os.Root's "path escapes from parent".
		return nil, fmt.Errorf("store_fname %q: %w", storeFname, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("store_fname %q is not a regular file: %w", storeFname, ErrFilestorePath)
	}
	return io.ReadAll(f)
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
