package actions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
)

// Callback headers. The signature is Meta's scheme with the action's
// callback_secret: "sha256=" + hex HMAC-SHA256 of the raw body, so receivers verify
// it as they verify Meta's webhooks.
const (
	CallbackSignatureHeader = "X-Sidecar-Signature-256"
	CallbackEventHeader     = "X-Sidecar-Event"
	// CallbackDeliveryHeader carries the click's wamid: a receiver that sees it
	// twice (a retry after a lost answer) can ignore the second.
	CallbackDeliveryHeader = "X-Sidecar-Delivery"
)

// CallbackEvent is the JSON body POSTed to an http_callback action's URL.
type CallbackEvent struct {
	Event     string          `json:"event"` // "button_click"
	ID        string          `json:"id"`    // the click's wamid
	Timestamp time.Time       `json:"timestamp"`
	ConfigID  int             `json:"config_id,omitempty"`
	Button    CallbackButton  `json:"button"`
	Action    CallbackAction  `json:"action"`
	Customer  CallbackPerson  `json:"customer"`
	Record    *CallbackRecord `json:"record,omitempty"`
	// ContextMessageID is the wamid of the message that carried the button.
	ContextMessageID string `json:"context_message_id,omitempty"`
}

// CallbackButton is the clicked button.
type CallbackButton struct {
	ID    string `json:"id"`
	Title string `json:"title,omitempty"`
}

// CallbackAction is the whatsapp_button_action row that matched.
type CallbackAction struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// CallbackPerson is who clicked.
type CallbackPerson struct {
	Phone       string `json:"phone"`
	WaID        string `json:"wa_id"`
	ProfileName string `json:"profile_name,omitempty"`
	PartnerID   int    `json:"partner_id,omitempty"`
	PartnerName string `json:"partner_name,omitempty"`
}

// CallbackRecord is the Odoo record the clicked message was about.
type CallbackRecord struct {
	Model string `json:"model"`
	ID    int    `json:"id"`
}

// CallbackAnswer is what a receiver may answer (2xx, JSON): a text for the customer.
type CallbackAnswer struct {
	Reply string `json:"reply"`
}

// callback POSTs the signed click event to the action's URL, retried on network
// errors, 429 and 5xx; a 2xx answer {"reply": "..."} is sent to the customer, then
// the action's own message if it has one.
func (r *Runner) callback(ctx context.Context, c Click, a Action, p *Plan) error {
	u, err := url.Parse(strings.TrimSpace(a.CallbackURL))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		r.report(c, a, p, "callback_url is not an http(s) URL")
		return nil
	}
	ev := CallbackEvent{
		Event: "button_click", ID: c.WaMessageID, Timestamp: c.At.UTC(), ContextMessageID: c.ContextID,
		Button:   CallbackButton{ID: c.ButtonID, Title: c.Title},
		Action:   CallbackAction{ID: a.ID, Name: a.Name},
		Customer: CallbackPerson{Phone: c.Phone.E164, WaID: c.Phone.WaID, ProfileName: c.ProfileName},
	}
	if c.Account != nil {
		ev.ConfigID = c.Account.ConfigID
	}
	if c.Partner != nil {
		ev.Customer.PartnerID, ev.Customer.PartnerName = c.Partner.ID, c.Partner.Name
	}
	if model, id := r.contextRecord(ctx, c.ContextID); model != "" && id != 0 {
		ev.Record = &CallbackRecord{Model: model, ID: id}
		p.about(model, id, "")
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode callback event: %w", err)
	}
	answer, err := r.post(ctx, u.String(), a.CallbackSecret, c.WaMessageID, body)
	if err != nil {
		r.count(a.Type, OutcomeFailed)
		// Scheme, host and path only: a token in the query stays out of the chatter.
		r.report(c, a, p, "callback "+u.Scheme+"://"+u.Host+u.Path+": "+err.Error())
		return nil
	}
	r.count(a.Type, OutcomeDone)
	if reply := strings.TrimSpace(answer.Reply); reply != "" {
		if utf8.RuneCountInString(reply) > 4096 {
			reply = string([]rune(reply)[:4096])
		}
		p.reply("reply_callback", p.record.Model, p.record.ID, reply)
	}
	if strings.TrimSpace(a.Message) != "" {
		return r.sendMessage(ctx, c, a, p)
	}
	return nil
}

// post sends one callback with retries and decodes its optional answer.
func (r *Runner) post(ctx context.Context, target, secret, delivery string, body []byte) (CallbackAnswer, error) {
	client := r.HTTP
	if client == nil {
		client = &http.Client{}
	}
	timeout, attempts := r.CallbackTimeout, r.CallbackAttempts
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if attempts <= 0 {
		attempts = 3
	}
	var lastErr error
	for attempt := 1; attempt <= attempts; attempt++ {
		if attempt > 1 {
			select {
			case <-ctx.Done():
				return CallbackAnswer{}, ctx.Err()
			case <-time.After(time.Duration(1<<(attempt-2)) * 500 * time.Millisecond):
			}
		}
		answer, retry, err := r.postOnce(ctx, client, timeout, target, secret, delivery, body)
		if err == nil {
			return answer, nil
		}
		lastErr = err
		if !retry {
			break
		}
	}
	return CallbackAnswer{}, lastErr
}

func (r *Runner) postOnce(ctx context.Context, client *http.Client, timeout time.Duration, target, secret, delivery string,
	body []byte) (answer CallbackAnswer, retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return answer, false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "whatsapp-sidecar")
	req.Header.Set(CallbackEventHeader, "button_click")
	req.Header.Set(CallbackDeliveryHeader, delivery)
	if secret != "" {
		req.Header.Set(CallbackSignatureHeader, whatsapp.Sign([]byte(secret), body))
	}
	resp, err := client.Do(req)
	if err != nil {
		// The URL (with any token in it) stays out of the error.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return answer, true, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		// The answer is optional: anything but {"reply": ...} means no reply.
		_ = json.Unmarshal(raw, &answer)
		return answer, false, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return answer, true, fmt.Errorf("HTTP %d", resp.StatusCode)
	default:
		return answer, false, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
}
