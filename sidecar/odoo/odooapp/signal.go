package odooapp

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Odoo's signaling sequences (odoo/modules/registry.py check_signaling): every Odoo
// process compares them with its own copy on each request and cron run; a new
// registry value rebuilds the registry (models, fields, so our manual metadata), a
// new cache value only clears the ormcaches (bindings of the Action menu, menus).
const (
	registrySignal = "base_registry_signaling"
	cacheSignal    = "base_cache_signaling"
)

// signal bumps an Odoo signaling sequence, after the metadata was committed so that
// a process which reloads at once sees it, and says what it did. It never fails the
// caller: the metadata is written, and a restart of Odoo loads it just as well.
func signal(ctx context.Context, conn *pgx.Conn, sequence string) string {
	what := "reload their registry"
	if sequence == cacheSignal {
		what = "clear their caches"
	}
	var value int64
	err := conn.QueryRow(ctx, `SELECT nextval(to_regclass($1))`, "public."+sequence).Scan(&value)
	if err != nil {
		return fmt.Sprintf("could not ask Odoo to %s (%s: %v): restart Odoo once to see the change", what, sequence, err)
	}
	return fmt.Sprintf("asked running Odoo servers to %s (%s = %d); open pages show it after a browser reload", what, sequence, value)
}
