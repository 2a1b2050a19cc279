package odoo_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var (
	order   = odoo.Record{Model: "sale.order", ID: 26}
	message = odoo.Record{Model: "whatsapp.message", ID: 7}
)

// insertAttachment stores an attachment of owner (nil: of no record) with its
// bytes in the database, or at storeFname in the filestore when data is nil.
func insertAttachment(t *testing.T, db *pgtest.DB, owner *odoo.Record, data []byte, storeFname string) int {
	t.Helper()
	var model, resID, fname any // nil is NULL
	if owner != nil {
		model, resID = owner.Model, owner.ID
	}
	if storeFname != "" {
		fname = storeFname
	}
	var id int
	db.QueryRow(t, []any{&id}, `INSERT INTO ir_attachment (name, type, mimetype, res_model, res_id, db_datas, store_fname)
		VALUES ('devis.pdf', 'binary', 'application/pdf', $1, $2, $3, $4) RETURNING id`, model, resID, data, fname)
	return id
}

// An attachment is read only for the records it belongs to: the message's record,
// or the message itself. Anyone else's, or one attached to nothing, is refused
// with an error that says whose it is.
func TestReadAttachmentOwner(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, pgtest.Sidecar)
	ctx := context.Background()
	content := []byte("%PDF-1.4 devis")
	invoice := odoo.Record{Model: "account.move", ID: 31}
	cases := []struct {
		name    string
		owner   *odoo.Record
		readFor []odoo.Record
		wantErr string // empty: read
	}{
		{"the record's", &order, []odoo.Record{order, message}, ""},
		{"the message's", &message, []odoo.Record{order, message}, ""},
		{"the message's, the message about nothing", &message, []odoo.Record{{}, message}, ""},
		{"another record's", &invoice, []odoo.Record{order, message}, "is attached to account.move 31, not to sale.order 26 or whatsapp.message 7"},
		{"another order's", &odoo.Record{Model: "sale.order", ID: 27}, []odoo.Record{order, message}, "is attached to sale.order 27"},
		{"another message's", &odoo.Record{Model: "whatsapp.message", ID: 8}, []odoo.Record{message}, "is attached to whatsapp.message 8, not to whatsapp.message 7"},
		{"attached to nothing", nil, []odoo.Record{{}, message}, "is attached to no record, not to whatsapp.message 7"},
		{"attached to nothing, read for nothing", nil, []odoo.Record{{}}, "is attached to no record"},
		{"read for no record", &order, nil, "not to any record"},
	}
	for _, c := range cases {
		id := insertAttachment(t, db, c.owner, content, "")
		a, err := odoo.ReadAttachment(ctx, db.Pool(t), "", id, c.readFor...)
		if c.wantErr == "" {
			if err != nil || string(a.Data) != string(content) || a.Name != "devis.pdf" || a.MimeType != "application/pdf" {
				t.Errorf("%s: %+v, %v; want its content", c.name, a, err)
			}
			continue
		}
		if !errors.Is(err, odoo.ErrForeignAttachment) || !strings.Contains(err.Error(), c.wantErr) || a.Data != nil {
			t.Errorf("%s: %d bytes, error %v; want ErrForeignAttachment saying %q", c.name, len(a.Data), err, c.wantErr)
		}
	}
	if _, err := odoo.ReadAttachment(ctx, db.Pool(t), "", 999999, order); !errors.Is(err, odoo.ErrNoAttachment) {
		t.Errorf("a missing attachment: %v, want ErrNoAttachment", err)
	}
}

// A filestore attachment is read from <data_dir>/filestore/<database>, and a
// store_fname never leads out of it: not by "..", an absolute path, or a symlink.
func TestReadAttachmentFilestore(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, pgtest.Sidecar)
	ctx := context.Background()
	dataDir := t.TempDir()
	store := filepath.Join(dataDir, "filestore", db.Name)
	secret := filepath.Join(dataDir, "secret.txt") // inside the data dir, outside the database's filestore
	write := func(path, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	symlink := func(target, link string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(store, "ab", "abcdef"), "%PDF-1.4 in the filestore")
	write(secret, "not an attachment")
	write(filepath.Join(dataDir, "filestore", "other_db", "cd", "cdef"), "another database's file")
	symlink(secret, filepath.Join(store, "ef", "out"))
	symlink("../../secret.txt", filepath.Join(store, "ef", "out-relative"))
	symlink("../ab/abcdef", filepath.Join(store, "ef", "in"))
	if err := os.MkdirAll(filepath.Join(store, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		storeFname, want string // want: the content read, or what the error says
		read             bool
	}{
		{"ab/abcdef", "%PDF-1.4 in the filestore", true},
		{"ef/in", "%PDF-1.4 in the filestore", true}, // a symlink that stays inside
		{"../secret.txt", "outside the filestore", false},
		{"../other_db/cd/cdef", "outside the filestore", false},
		{"ab/../../secret.txt", "outside the filestore", false},
		{"ab/../ab/abcdef", "outside the filestore", false}, // no ".." at all, even one that stays inside
		{secret, "outside the filestore", false},
		{"/etc/passwd", "outside the filestore", false},
		{"ef/out", "path escapes", false},
		{"ef/out-relative", "path escapes", false},
		{"dir", "not a regular file", false},
		{"ab/missing", "no such file", false},
	}
	for _, c := range cases {
		id := insertAttachment(t, db, &order, nil, c.storeFname)
		a, err := odoo.ReadAttachment(ctx, db.Pool(t), dataDir, id, order)
		if c.read {
			if err != nil || string(a.Data) != c.want || !a.FromFilestore {
				t.Errorf("%s: %q (filestore %v), %v; want %q", c.storeFname, a.Data, a.FromFilestore, err, c.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) || a.Data != nil {
			t.Errorf("%s: %q, %v; want an error saying %q", c.storeFname, a.Data, err, c.want)
		}
		if strings.Contains(c.want, "outside") && !errors.Is(err, odoo.ErrFilestorePath) {
			t.Errorf("%s: %v is not ErrFilestorePath", c.storeFname, err)
		}
	}

	id := insertAttachment(t, db, &order, nil, "ab/abcdef")
	if _, err := odoo.ReadAttachment(ctx, db.Pool(t), "", id, order); err == nil || !strings.Contains(err.Error(), "ODOO_DATA_DIR") {
		t.Errorf("without a data dir: %v, want an error naming ODOO_DATA_DIR", err)
	}
}
