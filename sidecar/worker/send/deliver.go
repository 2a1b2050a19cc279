package send

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/accounts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/outbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/phone"
)

// permanent marks a failure of ours (no number, no PDF, a row that makes no sense):
// final, recorded with its message.
type permanent struct{ msg string }

func (e *permanent) Error() string { return e.msg }

func fail(format string, args ...any) error { return &permanent{fmt.Sprintf(format, args...)} }

// deliver sends one claimed row and records what happened. Until the dispatch is
// recorded nothing has left: a stop gives the row back. After it the request may
// reach Meta whatever happens here, so every way out records an answer, a retry,
// a failure or an unknown fate.
func (r *run) deliver(c outbox.Claimed) {
	s := r.s
	dispatched := false
	defer func() {
		if p := recover(); p != nil {
			if s.Panics != nil {
				s.Panics.Inc()
			}
			s.Logger.Error("sending a message panicked: set aside", "message", c.ID, "kind", c.Kind,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			what := fmt.Sprintf("internal error while sending (panic: %v)", p)
			if dispatched {
				r.unknown(c, what)
			} else {
				r.failed(c, nil, errors.New(what))
			}
		}
	}()
	start := time.Now()
	if r.hook(func(h *Hooks) error { return callID(h.Started, c.ID) }) {
		return
	}
	acc, err := r.account(c)
	if err != nil {
		r.settleError(c, err)
		return
	}
	if acc.Client == nil || acc.PhoneNumberID == "" {
		// Nothing is lost: the row waits until the operator sets the token, and a
		// configuration change wakes it (WakeWaiting).
		r.retry(c, s.Now().Add(10*time.Minute), 0, fmt.Sprintf(
			"WhatsApp configuration %q has no access token or phone number id: set them (or WHATSAPP_ACCESS_TOKEN / WHATSAPP_PHONE_NUMBER_ID); the message waits", acc.Name),
			ReasonNoCredentials)
		return
	}
	to, err := s.recipient(c, acc)
	if err != nil {
		r.failed(c, nil, err)
		return
	}
	// Pacing and the rate limit are waited for before the dispatch: a stop during
	// the wait gives the row back untouched.
	if err := s.pair(to.E164).Wait(r.fetch); err != nil {
		r.release(c)
		return
	}
	sendCtx, cancel := context.WithTimeout(r.work, s.SendTimeout)
	defer cancel()
	out, err := s.build(sendCtx, c, acc, to, false)
	if err != nil {
		r.settleError(c, err)
		return
	}
	if err := acc.Client.Turn(r.fetch, acc.PhoneNumberID); err != nil {
		r.release(c)
		return
	}
	if !r.dispatch.mark(c) {
		return // not ours any more (owner lost): whoever rescues it decides
	}
	dispatched = true
	if r.hook(func(h *Hooks) error { return callID(h.AfterDispatch, c.ID) }) {
		return
	}
	res, err := acc.Client.SendTurn(sendCtx, acc.PhoneNumberID, out.msg)
	if err != nil && whatsapp.Classify(err) == whatsapp.ClassReEngagement && !out.template {
		// Outside the 24-hour window Meta refused the text (it did not accept it):
		// an approved template is the only way in.
		if tpl, ok := s.Accounts.Template(acc.ConfigID, c.Kind); ok && c.Kind != "" {
			if serr := outbox.SetTemplate(sendCtx, s.Pool, c.ID, tpl.Name, tpl.Language); serr == nil {
				c.Type, c.TemplateName, c.TemplateLanguage = "template", tpl.Name, tpl.Language
				if out, err = s.build(sendCtx, c, acc, to, true); err == nil {
					if err = acc.Client.Turn(sendCtx, acc.PhoneNumberID); err == nil {
						res, err = acc.Client.SendTurn(sendCtx, acc.PhoneNumberID, out.msg)
					}
				}
			}
		}
	}
	if r.hook(func(h *Hooks) error { return callID(h.AfterAnswer, c.ID) }) {
		return
	}
	if err != nil {
		r.sendError(c, acc, out, err)
		return
	}
	request, _ := json.Marshal(out.msg)
	s.observeSent(c.Kind, string(out.msg.Type), time.Since(start))
	if c.Resend {
		s.observeResent()
	}
	r.recorder.add(outbox.Sent{RowID: c.ID, WaMessageID: res.MessageID, Phone: to.E164, Request: request, Response: res.Raw,
		At: s.Now(), Content: out.content, Type: string(out.rowType), Buttons: out.buttons})
}

// settleError records an error met before the dispatch: ours and final (a
// permanent failure), or the database's (retried soon: a restart must not fail a
// message).
func (r *run) settleError(c outbox.Claimed, err error) {
	if _, ok := errors.AsType[*permanent](err); ok || !isTransient(err) {
		r.failed(c, nil, err)
		return
	}
	if r.fetch.Err() != nil {
		r.release(c)
		return
	}
	r.retry(c, r.s.Now().Add(r.s.Backoff(c.Attempts)), 0, "not sent yet: "+err.Error(), ReasonTransient)
}

// isTransient tells errors worth retrying that did not come from Meta: the
// database, a network, a timeout.
func isTransient(err error) bool {
	if _, meta := errors.AsType[*whatsapp.APIError](err); meta {
		return whatsapp.Classify(err) == whatsapp.ClassRetryable
	}
	return true
}

// account is the account a row is sent from: its config; else the active config of
// its record's company; else, for a message about no company, the only account. A
// lookup that fails is an error, never a guess: the wrong account would send from
// another company's number.
func (r *run) account(c outbox.Claimed) (*accounts.Account, error) {
	s := r.s
	if c.ConfigID != 0 {
		if a := s.Accounts.ByConfigID(c.ConfigID); a != nil {
			return a, nil
		}
		return nil, fail("WhatsApp configuration %d is not active", c.ConfigID)
	}
	if company, found, err := odoo.CompanyOf(r.work, s.Pool, c.ResModel, c.ResID); err != nil {
		return nil, err
	} else if found {
		if a := s.Accounts.ForCompany(company); a != nil {
			return a, nil
		}
		return nil, fail("no active WhatsApp configuration for company %d: activate one in WhatsApp > Configuration", company)
	}
	all := s.Accounts.All()
	switch len(all) {
	case 0:
		return nil, fail("no active WhatsApp configuration: activate one in WhatsApp > Configuration")
	case 1:
		return all[0], nil
	}
	return nil, fail("%d WhatsApp configurations are active and the message names none: set its config_id", len(all))
}

// recipient is the number to send to, normalised to E.164: the row's phone, else
// its partner's mobile or phone, read with the partner's country, then the
// account's default. An opted-out partner gets no notification.
func (s *Sender) recipient(c outbox.Claimed, acc *accounts.Account) (phone.Number, error) {
	partner := c.Partner
	if c.ContactID != 0 && partner.OptOut && isNotification(c.Kind) {
		return phone.Number{}, fail("%s opted out of WhatsApp messages (STOP): not sent", partner.Name)
	}
	raw := c.Phone
	if raw == "" {
		raw = partner.Number
	}
	if raw == "" {
		if c.ContactID == 0 {
			return phone.Number{}, fail("no recipient: set phone or contact_id on the message")
		}
		return phone.Number{}, fail("%s", notify.NoNumberError(partner.Name, "", nil))
	}
	num, err := phone.Normalize(raw, partner.Country, acc.DefaultRegion)
	if err != nil {
		if c.ContactID != 0 {
			return phone.Number{}, fail("%s", notify.NoNumberError(partner.Name, raw, err))
		}
		return phone.Number{}, fail("%v", err)
	}
	return num, nil
}

// isNotification tells the messages an opted-out customer must not get: everything
// but the replies to what they just wrote.
func isNotification(kind string) bool {
	return kind != "" && !strings.HasPrefix(kind, "reply")
}
