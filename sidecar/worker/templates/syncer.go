package templates

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/accounts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/listen"
)

// Syncer syncs every account's templates periodically, and an account's at once
// when Odoo asks (its "Synchroniser les templates" action sets
// whatsapp_config.template_sync_requested_at; the config trigger rings Bell).
type Syncer struct {
	Pool     *pgxpool.Pool
	Accounts *accounts.Registry
	Logger   *slog.Logger
	Bell     listen.Bell
	// Interval between full syncs; zero means 6 hours.
	Interval time.Duration
	// OnSync runs after each account's sync (the account registry reloads the
	// template mapping there).
	OnSync func(ctx context.Context)
}

// Run syncs until ctx ends.
func (s *Syncer) Run(ctx context.Context) error {
	interval := s.Interval
	if interval == 0 {
		interval = 6 * time.Hour
	}
	logger := s.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	bell := s.Bell
	if bell == nil {
		bell = listen.NewBell()
	}
	full := time.NewTicker(interval)
	defer full.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-full.C:
			s.sync(ctx, logger, false)
		case <-bell:
			s.sync(ctx, logger, true)
		}
	}
}

func (s *Syncer) sync(ctx context.Context, logger *slog.Logger, requestedOnly bool) {
	requested := map[int]bool{}
	if requestedOnly {
		rows, err := s.Pool.Query(ctx, `
			SELECT id FROM whatsapp_config
			WHERE is_active AND template_sync_requested_at IS NOT NULL
			  AND (templates_synced_at IS NULL OR template_sync_requested_at > templates_synced_at)`)
		if err != nil {
			logger.Warn("looking for template sync requests", "err", err)
			return
		}
		for rows.Next() {
			var id int
			if rows.Scan(&id) == nil {
				requested[id] = true
			}
		}
		rows.Close()
		if len(requested) == 0 {
			return
		}
	}
	for _, a := range s.Accounts.All() {
		if requestedOnly && !requested[a.ConfigID] {
			continue
		}
		n, err := Sync(ctx, s.Pool, a)
		if err != nil {
			logger.Warn("template sync", "config", a.Name, "err", err)
			continue
		}
		logger.Info("templates synced from Meta", "config", a.Name, "templates", n)
	}
	if s.OnSync != nil {
		s.OnSync(ctx)
	}
}
