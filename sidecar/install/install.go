// Package install is what `whatsapp-sidecar migrate` and `uninstall` do to Odoo's
// database: the schema migrations of package migrate, then the Odoo metadata of package
// odooapp (models, fields, views, menus), under one advisory lock.
package install

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

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

// StaleError says the database's schema is not the one this binary needs, and what
// the operator should run.
type StaleError struct{ msg string }

func (e *StaleError) Error() string { return e.msg }

// Current says whether the database's schema is the one this binary needs: nil, a
// *StaleError, or the error reading the schema version.
func Current(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) error {
	v, err := migrate.Version(ctx, q)
	if err != nil {
		return err
	}
	switch latest := migrate.Latest(); {
	case v == 0:
		return &StaleError{"the sidecar is not installed in this database: run `whatsapp-sidecar migrate` (or `run --migrate`)"}
	case v < latest:
		return &StaleError{fmt.Sprintf("database schema at version %d, this binary needs %d: run `whatsapp-sidecar migrate`", v, latest)}
	case v > latest:
		return &StaleError{fmt.Sprintf("database schema at version %d is newer than this binary (%d): upgrade the binary", v, latest)}
	}
	return nil
}
