// Package sql embeds the sidecar's versioned migrations: sql/migrations/NNN_name.sql,
// applied in order by sidecar/migrate. Each file must be idempotent, because
// `uninstall` drops the bookkeeping but may keep the tables.
package sql

import "embed"

// Migrations holds migrations/NNN_name.sql.
//
//go:embed migrations/*.sql
var Migrations embed.FS
