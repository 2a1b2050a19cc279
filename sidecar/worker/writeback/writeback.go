// Package writeback writes into Odoo what the sidecar sent, from the sent
// whatsapp_message rows: a chatter note on the order or invoice each message is
// about ("WhatsApp envoyé au ..."), and the record's x_whatsapp_* flags.
//
// A note is a new mail_message row, which no Odoo transaction can trip over: it is
// written at once. A flag is an update of Odoo's own sale_order or account_move
// row, which Odoo's REPEATABLE READ transactions must not see change under them
// (an order being confirmed while its flag is written fails and Odoo replays the
// request): flags are written only by a statement that finds no other transaction
// open on the database from the write to its commit (odoo.WriteFlags), at the next such moment, so a user
// sees a flag a moment after the message left, typically well under a second, and
// later while Odoo is busy without pause. Nothing is lost meanwhile: the row says
// what is pending (note_pending, flags_pending).
package writeback

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/listen"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/outbox"
)

// Writer writes back. Set the exported fields, then call Run (or Drain).
type Writer struct {
	Pool   *pgxpool.Pool
	Logger *slog.Logger
	// Bell wakes the writer: the sender rings it when it has recorded sends.
	Bell listen.Bell
	// Retry is how often flags waiting for a quiet moment are tried again; zero
	// means 100ms.
	Retry time.Duration
	// PollInterval is the safety net when no bell rings (a status webhook settled
	// a send); zero means 2s.
	PollInterval time.Duration
	// BatchSize rows per pass; zero means 500.
	BatchSize int
	// BeforeFlagsCommit, when set, runs once a batch's flags are written, just
	// before their commit: the point where a test opens an Odoo transaction.
	BeforeFlagsCommit func()
}

func (w *Writer) defaults() {
	if w.Logger == nil {
		w.Logger = slog.New(slog.DiscardHandler)
	}
	if w.Bell == nil {
		w.Bell = listen.NewBell()
	}
	if w.Retry == 0 {
		w.Retry = 100 * time.Millisecond
	}
	if w.PollInterval == 0 {
		w.PollInterval = 2 * time.Second
	}
	if w.BatchSize == 0 {
		w.BatchSize = 500
	}
}

// Run writes back until ctx ends.
func (w *Writer) Run(ctx context.Context) error {
	w.defaults()
	poll := time.NewTicker(w.PollInterval)
	defer poll.Stop()
	for {
		_, waiting, err := w.Drain(ctx)
		if err != nil && ctx.Err() == nil {
			w.Logger.Warn("writing WhatsApp notes and flags back into Odoo, will retry", "err", err)
		}
		var retry <-chan time.Time
		if waiting || err != nil {
			retry = time.After(w.Retry)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-w.Bell:
		case <-poll.C:
		case <-retry:
		}
	}
}

// Drain writes every pending note, and every pending flag if the database is
// quiet now. It returns how many rows it settled and whether flags still wait for
// a quiet moment.
func (w *Writer) Drain(ctx context.Context) (settled int, waiting bool, err error) {
	w.defaults()
	for {
		n, err := w.notes(ctx)
		settled += n
		if err != nil {
			return settled, false, err
		}
		if n < w.BatchSize {
			break
		}
	}
	for {
		n, quiet, err := w.flags(ctx)
		settled += n
		if err != nil || !quiet {
			return settled, !quiet, err
		}
		if n < w.BatchSize {
			return settled, false, nil
		}
	}
}

// notes writes one batch of chatter notes.
func (w *Writer) notes(ctx context.Context) (int, error) {
	rows, err := outbox.PendingNotes(ctx, w.Pool, w.BatchSize)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	notes := make([]odoo.Note, 0, len(rows))
	ids := make([]int, len(rows))
	for i, r := range rows {
		ids[i] = r.RowID
		notes = append(notes, note(r))
	}
	err = odoo.WithLockTimeout(ctx, w.Pool, func(tx pgx.Tx) error {
		if err := odoo.PostNotes(ctx, tx, notes, time.Now()); err != nil {
			return err
		}
		return outbox.NotesWritten(ctx, tx, ids)
	})
	if err != nil {
		return 0, err
	}
	return len(rows), nil
}

// note is what the chatter of the record says about a sent message.
func note(r outbox.WriteBack) odoo.Note {
	summary := r.Content
	if r.Type == "document" {
		summary = "📄 " + r.Params["filename"] + "\n" + r.Caption
	}
	record := r.Params["order_name"]
	if record == "" {
		record = r.Params["invoice_name"]
	}
	return odoo.Note{Model: r.ResModel, ResID: r.ResID, RecordName: record, At: r.SentAt,
		BodyHTML: fmt.Sprintf("<p>WhatsApp envoyé au %s :</p><p>%s</p>", odoo.EscapeHTML(r.Phone), odoo.EscapeHTML(summary))}
}

// flags writes one batch of flags if the database is quiet; quiet is false when it
// was not (nothing was written).
func (w *Writer) flags(ctx context.Context) (n int, quiet bool, err error) {
	// While Odoo is busy the batch would be cleared and rolled back again and
	// again (a 500-row update, every Retry, holding the rows' locks against the
	// status reports): look first, then prepare it.
	if quiet, err := odoo.IsQuiet(ctx, w.Pool); err != nil || !quiet {
		return 0, err != nil, err
	}
	rows, err := outbox.PendingFlags(ctx, w.Pool, w.BatchSize)
	if err != nil || len(rows) == 0 {
		return 0, true, err
	}
	flags := make([]odoo.SentFlag, len(rows))
	ids := make([]int, len(rows))
	for i, r := range rows {
		ids[i] = r.RowID
		flags[i] = odoo.SentFlag{Kind: r.Kind, ResID: r.ResID, At: r.SentAt}
	}
	quiet, err = odoo.WriteFlags(ctx, w.Pool, flags, func(ctx context.Context, tx odoo.DBTX) error {
		if err := outbox.FlagsWritten(ctx, tx, ids); err != nil {
			return err
		}
		if w.BeforeFlagsCommit != nil {
			w.BeforeFlagsCommit()
		}
		return nil
	})
	if err != nil {
		return 0, true, err
	}
	if !quiet {
		return 0, false, nil
	}
	return len(rows), true, nil
}
