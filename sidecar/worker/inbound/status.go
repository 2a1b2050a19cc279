package inbound

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify/texts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/outbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
)

// reEngagement is Meta's "more than 24 hours since the customer last wrote" code.
const reEngagement = 131047

// status applies one status update: forward only (a late delivered never
// overwrites read; failed is final), found by wamid or by the row id the sidecar
// put in biz_opaque_callback_data. A failure is recorded with Meta's code and
// title, noted on the order or invoice, and a 131047 is sent again as the approved
// template mapped to the notification, all in one transaction.
func (p *Processor) status(ctx context.Context, s whatsapp.Status) error {
	switch s.Status {
	case whatsapp.StatusSent, whatsapp.StatusDelivered, whatsapp.StatusRead, whatsapp.StatusFailed:
	default:
		// "played" (voice messages) and future values say nothing the row tracks.
		p.countStatus(s.Status, "ignored")
		return nil
	}
	u := p.update(s)
	if s.Status != whatsapp.StatusFailed {
		a, err := outbox.ApplyStatus(ctx, p.Pool, u)
		if err != nil {
			return err
		}
		p.countApplied(s.Status, a)
		return nil
	}
	var code int
	var reason string
	if len(s.Errors) > 0 {
		code, reason = s.Errors[0].Code, describe(s.Errors[0])
	}
	u.ErrorCode, u.ErrorMessage = code, reason
	if reason == "" {
		u.ErrorMessage = "failed (Meta gave no reason)"
	}
	return odoo.WithLockTimeout(ctx, p.Pool, func(tx pgx.Tx) error {
		a, err := outbox.ApplyStatus(ctx, tx, u)
		if err != nil {
			return err
		}
		p.countApplied(s.Status, a)
		if !a.Changed {
			return nil
		}
		if code == reEngagement {
			id, err := outbox.RetryAsTemplate(ctx, tx, a.RowID)
			if err != nil {
				return err
			}
			if id != 0 {
				p.Logger.Info("customer's 24-hour window closed: notification queued again as its approved template",
					"message", a.RowID, "retry", id, "kind", a.Kind)
			}
		}
		if a.ResModel != "sale.order" && a.ResModel != "account.move" || a.ResID == 0 {
			return nil
		}
		lang, err := p.langOfRow(ctx, tx, a.RowID)
		if err != nil {
			return err
		}
		text := texts.Render(lang, "note_delivery_failed", "", texts.Vars{"phone": "+" + s.RecipientID, "error": u.ErrorMessage})
		return odoo.PostNotes(ctx, tx, []odoo.Note{{Model: a.ResModel, ResID: a.ResID,
			BodyHTML: "<p>" + odoo.EscapeHTML(text) + "</p>"}}, p.Now())
	})
}

// update is the row update a status report asks for.
func (p *Processor) update(s whatsapp.Status) outbox.StatusUpdate {
	u := outbox.StatusUpdate{
		WaMessageID: s.ID, RowID: outbox.RowFromCallbackData(s.BizOpaqueCallbackData),
		Status: s.Status, Timestamp: Timestamp(s.Timestamp),
	}
	if u.Timestamp.IsZero() {
		u.Timestamp = p.Now()
	}
	if s.Conversation != nil {
		u.WaConversationID = s.Conversation.ID
	}
	return u
}

// langOfRow is the language of the config a row was sent from, French when it
// names none or an inactive one.
func (p *Processor) langOfRow(ctx context.Context, tx pgx.Tx, rowID int) (texts.Lang, error) {
	configID, err := outbox.ConfigOf(ctx, tx, rowID)
	if err != nil {
		return "", err
	}
	if p.Accounts != nil && configID != 0 {
		if a := p.Accounts.ByConfigID(configID); a != nil {
			return a.Lang, nil
		}
	}
	return texts.French, nil
}

func (p *Processor) countApplied(status string, a outbox.Applied) {
	switch {
	case !a.Found:
		// A message this sidecar did not send (Meta's tools, another app).
		p.countStatus(status, "unknown_message")
	case a.Changed:
		p.countStatus(status, "applied")
	default:
		p.countStatus(status, "unchanged")
	}
}

// templateStatus records Meta's review of a template (approved, rejected, paused...)
// on the whatsapp_template rows synced from it.
func (p *Processor) templateStatus(ctx context.Context, c Change) error {
	var v struct {
		Event    string          `json:"event"`
		ID       json.RawMessage `json:"message_template_id"`
		Name     string          `json:"message_template_name"`
		Language string          `json:"message_template_language"`
		Reason   string          `json:"reason"`
	}
	if err := json.Unmarshal(c.Value, &v); err != nil || v.Event == "" {
		return nil
	}
	id := strings.Trim(string(v.ID), `"`)
	_, err := p.Pool.Exec(ctx, `UPDATE whatsapp_template SET status = $1, write_date = now() AT TIME ZONE 'utc'
		WHERE (meta_template_id = $2 AND $2 <> '') OR (wa_name = $3 AND COALESCE(language_code, '') = $4)`,
		strings.ToUpper(v.Event), id, v.Name, v.Language)
	if err != nil {
		return fmt.Errorf("record template %s status %s: %w", v.Name, v.Event, err)
	}
	p.Logger.Info("template reviewed by Meta", "template", v.Name, "language", v.Language, "status", v.Event, "reason", v.Reason)
	return nil
}
