// Package install is what `whatsapp-sidecar migrate` and `uninstall` do to Odoo's
// database: the schema migrations of package migrate, then the Odoo metadata of package
// odooapp (models, fields, views, menus), under one advisory lock.
package install

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"github.com/jackc/pgx/v5"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/install/migrate"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/odooapp"
)

// Migrate installs or upgrades everything and returns what it did, a line each.
func Migrate(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	return migrate.Up(ctx, conn, migrate.Options{After: odooapp.Install})
}

// Uninstall removes the sidecar; with dropData, also its tables, columns and Odoo
// metadata, leaving Odoo as it was before Migrate.
func Uninstall(ctx context.Context, conn *pgx.Conn, dropData bool) ([]string, error) {
	return migrate.Uninstall(ctx, conn, migrate.UninstallOptions{DropData: dropData, Before: odooapp.Uninstall})
}

// Fingerprint changes whenever what Migrate writes changes; test harnesses key their
// template databases on it.
func Fingerprint() string {
	h := sha256.New()
	for _, m := range migrate.Embedded() {
		h.Write([]byte(m.Name))
		h.Write([]byte(m.SQL))
	}
	h.Write([]byte(odooapp.Fingerprint()))
	return hex.EncodeToString(h.Sum(nil))
}
