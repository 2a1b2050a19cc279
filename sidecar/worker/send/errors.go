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

// Reasons a queued row waits (whatsapp_message.retry_reason, and the reason label
// of whatsapp_messages_retries_total): bounded words.
const (
	ReasonTransient     = "transient"       // Meta's 5xx, throughput, a timeout before the request left, the database
	ReasonPairRate      = "pair_rate_limit" // too many messages to this customer (131056)
	ReasonAuth          = "auth"            // the token was refused (190)
	ReasonAccount       = "account"         // the account needs attention (locked, not registered)
	ReasonNoCredentials = "no_credentials"  // no token or phone number id yet
	ReasonShutdown      = "shutdown"        // given back, never sent, when the sender stopped
)

// ConfigReasons are the reasons a configuration change may cure: the rows waiting
// for them are made due at once when whatsapp_config changes.
var ConfigReasons = []string{ReasonAuth, ReasonAccount, ReasonNoCredentials}

// sendError decides what a failed request becomes: back in the queue (throughput,
// Meta's transient errors, the pair rate limit, an expired token: nothing is lost),
// unknown (Meta may have it: its status webhook will tell), or failed for good with
// Meta's code and a message saying what to do.
func (r *run) sendError(c outbox.Claimed, acc *accounts.Account, out outgoing, err error) {
	s := r.s
	code, msg := describe(err)
	request, _ := json.Marshal(out.msg)
	switch whatsapp.Classify(err) {
	case whatsapp.ClassRetryable:
		if c.Attempts >= s.MaxAttempts {
			r.failed(c, request, fmt.Errorf("%s (gave up after %d attempts)", msg, c.Attempts))
			return
		}
		r.retry(c, s.Now().Add(s.Backoff(c.Attempts)), code, msg, ReasonTransient)
	case whatsapp.ClassOutcomeUnknown:
		what := "Meta's answer to this send was lost (" + msg + ")"
		if r.work.Err() != nil {
			what = "the sidecar stopped while this send was under way"
		}
		r.unknown(c, what)
	case whatsapp.ClassRetryLaterForRecipient:
		// Meta's advice for 131056: wait 4^X seconds; other customers are fine.
		wait := time.Duration(math.Pow(4, float64(min(c.Attempts, 6)))) * time.Second
		r.retry(c, s.Now().Add(wait), code, msg, ReasonPairRate)
	case whatsapp.ClassAuth:
		s.Logger.Error("WhatsApp rejected the access token; messages wait in the queue until it is renewed",
			"config", acc.Name, "code", code)
		r.retry(c, s.Now().Add(10*time.Minute), code, msg, ReasonAuth)
	case whatsapp.ClassConfig:
		if code == 131030 { // one recipient not in the test number's allowed list
			r.failed(c, request, withCode(code, msg))
			return
		}
		s.Logger.Error("the WhatsApp account needs attention; messages wait in the queue", "config", acc.Name, "code", code)
		r.retry(c, s.Now().Add(10*time.Minute), code, msg, ReasonAccount)
	default:
		r.failed(c, request, withCode(code, msg))
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

// write runs a verdict's statement, retried while the database is away (a restart
// must not lose it), each attempt bounded; not at all once the run is dead.
func (r *run) write(what string, c outbox.Claimed, fn func(ctx context.Context) error) bool {
	if r.dead.Load() {
		return false
	}
	ctx := r.work
	if ctx.Err() != nil {
		// Cancelled work still records its verdict, once and briefly: the pool is
		// closed only after every sender has returned.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
	}
	if err := retryDB(ctx, fn); err != nil {
		// The row stays 'sending' under an owner that is about to go: rescue makes
		// it queued (not dispatched) or unknown (dispatched), nothing is lost.
		r.s.Logger.Error(what+" (the row is rescued when this sender's claims end)", "message", c.ID, "err", err)
		return false
	}
	return true
}

// retry puts a row back in the queue.
func (r *run) retry(c outbox.Claimed, at time.Time, code int, msg, reason string) {
	r.s.observeRetry(reason)
	r.write("requeueing a message", c, func(ctx context.Context) error {
		return outbox.MarkRetry(ctx, r.s.Pool, c.Owner, c.ID, at, code, msg, reason)
	})
	r.dueStale.Store(true) // before the lane is freed, which wakes the loop
}

// release gives back a row that never left (stopping during its pacing wait).
func (r *run) release(c outbox.Claimed) {
	r.s.observeRetry(ReasonShutdown)
	r.write("giving back a message", c, func(ctx context.Context) error {
		return outbox.Release(ctx, r.s.Pool, c.Owner, []int{c.ID}, ReasonShutdown)
	})
}

// unknown records that Meta may have received the row's request without its answer
// reaching us.
func (r *run) unknown(c outbox.Claimed, what string) {
	r.s.Logger.Warn("send of unknown fate: waiting for Meta's status webhook", "message", c.ID, "what", what,
		"resend_after", r.s.Unknown.ResendAfter)
	r.s.observeUnknown()
	r.write("recording a send of unknown fate", c, func(ctx context.Context) error {
		return outbox.MarkUnknown(ctx, r.s.Pool, c.Owner, c.ID, r.s.Unknown, what)
	})
	r.dueStale.Store(true)
}

// failed records a final failure on the row and on the record's chatter.
func (r *run) failed(c outbox.Claimed, request []byte, cause error) {
	s := r.s
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
	s.observeFailed(c.Kind, code)
	s.Logger.Info("message failed", "message", c.ID, "kind", c.Kind, "code", code, "reason", msg)
	if !r.write("recording a failed message", c, func(ctx context.Context) error {
		return outbox.MarkFailed(ctx, s.Pool, c.Owner, c.ID, code, msg, request, nil)
	}) {
		return
	}
	if c.ResID == 0 || (c.ResModel != "sale.order" && c.ResModel != "account.move") {
		return
	}
	// A new chatter row: it cannot conflict with an Odoo transaction.
	note := odoo.Note{Model: c.ResModel, ResID: c.ResID, BodyHTML: "<p>WhatsApp non envoyé : " + odoo.EscapeHTML(msg) + "</p>"}
	if err := odoo.WithLockTimeout(r.work, s.Pool, func(tx pgx.Tx) error {
		return odoo.PostNotes(r.work, tx, []odoo.Note{note}, s.Now())
	}); err != nil {
		s.Logger.Warn("posting the failure on the record's chatter", "message", c.ID, "err", err)
	}
}

// retryDB runs fn until it succeeds, ctx ends or five attempts failed, each bounded
// by 5 s and separated by a growing pause: a database restart must not lose a
// verdict.
func retryDB(ctx context.Context, fn func(ctx context.Context) error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		attemptCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = fn(attemptCtx)
		cancel()
		if err == nil || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt+1) * 500 * time.Millisecond):
		}
	}
	return err
}
