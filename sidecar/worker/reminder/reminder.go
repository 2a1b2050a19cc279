// Package reminder finds unpaid customer invoices and asks the composer to remind
// their customers: posted invoices not paid unpaid_invoice_days after their due date,
// for accounts with auto_send_unpaid_invoices on, at most once per configured
// interval and up to a maximum count. Several replicas may run it: each pass takes a
// transaction-level advisory lock, so one replica does a pass at a time.
package reminder

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/accounts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/events"
)

// lockKey serialises reminder passes across replicas.
const lockKey int64 = 0x3c1f5a7d2e9b4c62

// Scheduler runs reminder passes.
type Scheduler struct {
	Pool     *pgxpool.Pool
	Accounts *accounts.Registry
	Logger   *slog.Logger
	// Interval between passes; zero means 1 hour.
	Interval time.Duration
}

// Run does a pass now and then every Interval until ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	interval := s.Interval
	if interval == 0 {
		interval = time.Hour
	}
	logger := s.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	for {
		if n, err := s.Pass(ctx); err != nil && ctx.Err() == nil {
			logger.Warn("unpaid invoice reminders", "err", err)
		} else if n > 0 {
			logger.Info("unpaid invoice reminders queued", "invoices", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

// remindable selects, for one account, the invoices due for a reminder, each with
// the number of its next reminder; an invoice_reminder event is recorded for each
// (the composer builds and queues the message; its dedup key, the reminder's
// number, makes a repeated pass harmless).
const remindable = `
SELECT m.id, (COALESCE(m.x_whatsapp_unpaid_reminder_count, 0) + 1)::text
FROM account_move m
WHERE m.move_type = 'out_invoice' AND m.state = 'posted'
  AND m.payment_state IN ('not_paid', 'partial') AND m.amount_residual > 0
  AND m.invoice_date_due <= current_date - $2::int
  AND COALESCE(m.x_whatsapp_unpaid_reminder_count, 0) < $3
  AND (m.x_whatsapp_unpaid_reminder_sent_date IS NULL
       OR m.x_whatsapp_unpaid_reminder_sent_date <= (now() AT TIME ZONE 'utc') - make_interval(days => $4))
  AND (m.company_id = $1 OR ($1 = 0 AND NOT (m.company_id = ANY($5))))
  AND NOT EXISTS (SELECT 1 FROM whatsapp_sidecar.event e
                  WHERE e.model = 'account.move' AND e.res_id = m.id AND e.kind = 'invoice_reminder')
  AND NOT EXISTS (SELECT 1 FROM whatsapp_message w
                  WHERE w.res_model = 'account.move' AND w.res_id = m.id AND w.kind = 'invoice_reminder'
                    AND w.dedup_key = 'reminder:' || (COALESCE(m.x_whatsapp_unpaid_reminder_count, 0) + 1))`

// Pass queues the reminders due now and returns how many; 0 when another replica
// is doing a pass.
func (s *Scheduler) Pass(ctx context.Context) (int, error) {
	var total int
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		var leader bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, lockKey).Scan(&leader); err != nil || !leader {
			return err
		}
		all := s.Accounts.All()
		companies := []int{} // not nil: NULL would match no invoice
		for _, a := range all {
			if a.CompanyID != 0 {
				companies = append(companies, a.CompanyID)
			}
		}
		for _, a := range all {
			if !a.AutoSendUnpaidInvoices {
				continue
			}
			maxCount := a.ReminderMaxCount
			if maxCount <= 0 {
				maxCount = 3
			}
			interval := max(a.ReminderIntervalDays, 1)
			rows, err := tx.Query(ctx, remindable, a.CompanyID, a.UnpaidInvoiceDays, maxCount, interval, companies)
			if err != nil {
				return fmt.Errorf("find unpaid invoices for %q: %w", a.Name, err)
			}
			due, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (events.Event, error) {
				e := events.Event{Model: "account.move", Kind: "invoice_reminder"}
				return e, row.Scan(&e.ResID, &e.NewValue)
			})
			if err != nil {
				return fmt.Errorf("find unpaid invoices for %q: %w", a.Name, err)
			}
			if err := events.Add(ctx, tx, due); err != nil {
				return err
			}
			total += len(due)
		}
		return nil
	})
	return total, err
}
