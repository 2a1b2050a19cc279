package odoo

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"mime"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"
)

// NewAttachment is a file to store as an ir_attachment.
type NewAttachment struct {
	Name string
	Data []byte
	// MimeType; empty: from the name's extension.
	MimeType string
	// CompanyID, when the file belongs to one company; 0: none.
	CompanyID int
	// ResModel and ResID attach it to a record; empty: a free attachment.
	ResModel string
	ResID    int
}

// StoreAttachment stores a file in the database (db_datas), as Odoo does with
// ir_attachment.location = db, and returns its id and MIME type (given, else from
// the name's extension).
func StoreAttachment(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, a NewAttachment) (id int, mimeType string, err error) {
	mimeType = a.MimeType
	if mimeType == "" {
		mimeType = mime.TypeByExtension(filepath.Ext(a.Name))
	}
	if i := strings.IndexByte(mimeType, ';'); i >= 0 {
		mimeType = mimeType[:i]
	}
	if mimeType == "" {
		mimeType = "application/octet-stream"
	}
	sum := sha1.Sum(a.Data)
	err = q.QueryRow(ctx, storeAttachment, a.Name, a.Data, mimeType, len(a.Data), hex.EncodeToString(sum[:]),
		nullString(a.ResModel), nullInt(a.ResID), nullInt(a.CompanyID)).Scan(&id)
	if err != nil {
		return 0, "", fmt.Errorf("store %s as an attachment: %w", a.Name, err)
	}
	return id, mimeType, nil
}

const storeAttachment = `
INSERT INTO ir_attachment (name, type, db_datas, mimetype, file_size, checksum, public, res_model, res_id, company_id,
    create_uid, create_date, write_uid, write_date)
VALUES ($1, 'binary', $2, $3, $4, $5, false, $6, $7, $8, 1, now() AT TIME ZONE 'utc', 1, now() AT TIME ZONE 'utc')
RETURNING id`

func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nullInt(v int) *int {
	if v == 0 {
		return nil
	}
	return &v
}
