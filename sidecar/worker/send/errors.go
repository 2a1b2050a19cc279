package send

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/accounts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/outbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
)

// sendError decides what a failed send becomes: back in the queue (throughput,
// Meta's transient errors, the pair rate limit, an expired token: nothing is lost),
// left to its lease (the outcome is unknown: a status webhook will tell), or failed
// for good with Meta's code and a message saying what to do.
func (s *Sender) sendError(ctx context.Context, p outbox.Pending, acc *accounts.Account, out outgoing, err error) {
	code, msg := describe(err)
	request, _ := json.Marshal(out.msg)
	switch whatsapp.Classify(err) {
	case whatsapp.ClassRetryable:
		if p.Attempts >= s.MaxAttempts {
			s.failed(ctx, p, request, fmt.Errorf("%s (gave up after %d attempts)", msg, p.Attempts))
			return
		}
		s.retry(ctx, p, s.Now().Add(s.Backoff(p.Attempts)), code, msg, "transient")
	case whatsapp.ClassOutcomeUnknown:
		// Meta may have accepted it: leave the row 'sending' until its lease ends;
		// the status webhook (biz_opaque_callback_data = row id) settles it before.
		s.Logger.Warn("send outcome unknown, waiting for Meta's status webhook before any resend",
			"message", p.ID, "lease", s.Lease, "err", err)
		s.observeRetry("outcome_unknown")
	case whatsapp.ClassRetryLaterForRecipient:
		// Meta's advice for 131056: wait 4^X seconds; other customers are fine.
		wait := time.Duration(math.Pow(4, float64(min(p.Attempts, 6)))) * time.Second
		s.retry(ctx, p, s.Now().Add(wait), code, msg, "pair_rate_limit")
	case whatsapp.ClassAuth:
		s.Logger.Error("WhatsApp rejected the access token; messages wait in the queue until it is renewed",
			"config", acc.Name, "code", code)
		s.retry(ctx, p, s.Now().Add(10*time.Minute), code, msg, "auth")
	case whatsapp.ClassConfig:
		if code == 131030 { // one recipient not in the test number's allowed list
			s.failed(ctx, p, request, withCode(code, msg))
			return
		}
		s.Logger.Error("the WhatsApp account needs attention; messages wait in the queue", "config", acc.Name, "code", code)
		s.retry(ctx, p, s.Now().Add(10*time.Minute), code, msg, "account")
	default:
		s.failed(ctx, p, request, withCode(code, msg))
	}
}

type codedError struct {
	code int
	msg  string
}

func (e *codedError) Error() string { return e.msg }

func withCode(code int, msg string) error { return &codedError{code, msg} }

// advice says what a person can do about a final error, beyond Meta's words.
var advice = map[int]string{
	131047: "more than 24 hours since the customer last wrote: only an approved template can reach them (map one to this notification in WhatsApp > Templates)",
	131026: "the number cannot receive this message (not on WhatsApp, or an old WhatsApp version)",
	131030: "the test number may only message its allowed list: add the recipient in Meta's WhatsApp Manager",
	131031: "the WhatsApp Business account is locked: see Meta's Business Support",
	190:    "the access token expired or was revoked: generate a new one (a System User token does not expire)",
	131053: "Meta could not process the media: check its type and size",
	131056: "too many messages to this customer in a short time: it will be sent later",
	130429: "Meta's throughput limit for the number was reached: it will be sent later",
	132001: "the template does not exist in this language or is not approved",
	132000: "the template's parameters do not match its placeholders",
}

// describe returns Meta's code and a message for people: Meta's title and details,
// then what to do.
func describe(err error) (int, string) {
	var api *whatsapp.APIError
	if errors.As(err, &api) {
		msg := fmt.Sprintf("(#%d) %s", api.Code, api.Message)
		if api.Details != "" {
			msg += ": " + api.Details
		}
		if a, ok := advice[api.Code]; ok {
			msg += " — " + a
		}
		return api.Code, msg
	}
	return 0, err.Error()
}

// retry puts a row back in the queue.
func (s *Sender) retry(ctx context.Context, p outbox.Pending, at time.Time, code int, msg, reason string) {
	s.observeRetry(reason)
	if err := retryDB(ctx, func() error { return outbox.MarkRetry(ctx, s.Pool, p.ID, at, code, msg) }); err != nil {
		s.Logger.Error("requeueing a message (its lease will bring it back)", "message", p.ID, "err", err)
	}
}

// failed records a final failure on the row and on the record's chatter.
func (s *Sender) failed(ctx context.Context, p outbox.Pending, request []byte, cause error) {
	code := 0
	var ce *codedError
	if errors.As(cause, &ce) {
		code = ce.code
	}
	msg := cause.Error()
	var perm *permanent
	if !errors.As(cause, &perm) && ce == nil {
		msg = "not sent: " + msg
	}
	s.observeFailed(p.Kind, code)
	s.Logger.Info("message failed", "message", p.ID, "kind", p.Kind, "code", code, "reason", msg)
	if err := retryDB(ctx, func() error { return outbox.MarkFailed(ctx, s.Pool, p.ID, code, msg, request, nil) }); err != nil {
		s.Logger.Error("recording a failed message", "message", p.ID, "err", err)
		return
	}
	if p.ResID == 0 || (p.ResModel != "sale.order" && p.ResModel != "account.move") {
		return
	}
	note := odoo.Note{Model: p.ResModel, ResID: p.ResID, BodyHTML: "<p>WhatsApp non envoyé : " + odoo.EscapeHTML(msg) + "</p>"}
	if err := odoo.WithLockTimeout(ctx, s.Pool, func(tx pgx.Tx) error {
		return odoo.PostNotes(ctx, tx, []odoo.Note{note}, s.Now())
	}); err != nil {
		s.Logger.Warn("posting the failure on the record's chatter", "message", p.ID, "err", err)
	}
}
