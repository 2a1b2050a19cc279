package actions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
)

// Callback headers. With a callback_secret, CallbackSignatureHeader is
// "sha256=" + hex HMAC-SHA256(callback_secret, timestamp + "." + raw body), where
// timestamp is CallbackTimestampHeader's value (Unix seconds): a receiver
// recomputes it, compares in constant time, and refuses a timestamp too far from
// its clock (five minutes, say), so a captured request cannot be replayed later.
const (
	CallbackSignatureHeader = "X-Sidecar-Signature-256"
	CallbackTimestampHeader = "X-Sidecar-Timestamp"
	CallbackEventHeader     = "X-Sidecar-Event"
	// CallbackDeliveryHeader carries the click's wamid: a receiver that sees it
	// twice (a retry after a lost answer) can ignore the second.
	CallbackDeliveryHeader = "X-Sidecar-Delivery"
)

// SignCallback is the CallbackSignatureHeader value of a callback body sent at
// timestamp (Unix seconds).
func SignCallback(secret []byte, timestamp int64, body []byte) string {
	signed := make([]byte, 0, 21+len(body))
	signed = strconv.AppendInt(signed, timestamp, 10)
	signed = append(signed, '.')
	signed = append(signed, body...)
	return whatsapp.Sign(secret, signed)
}

// ErrCallbackDestination is why a callback to a loopback, link-local, private,
// unspecified, multicast or otherwise non-public address is refused, unless
// Runner.AllowPrivateCallbacks is set. It is checked on the address dialled,
// after DNS resolution, so a name that resolves (or is rebound) to such an
// address is refused too.
var ErrCallbackDestination = errors.New("callback destination not allowed")

// nonPublic are the ranges, besides what netip classifies, that are not the
// public internet: a button pointing there reaches the sidecar's own network.
var nonPublic = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "\"this network\" (RFC 1122)"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address space (RFC 6598)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments (RFC 6890)"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking (RFC 2544)"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved or broadcast (RFC 1112, RFC 919)"},
	{netip.MustParsePrefix("fec0::/10"), "site-local (RFC 3879)"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64 (RFC 8215)"},
}

// nat64 is NAT64's well-known prefix (RFC 6052): its last 32 bits are the IPv4
// address actually reached.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// nonPublicReason says why ip is not a public destination, or "" when it is.
// IPv4 embedded in IPv6 (mapped, or NAT64's well-known prefix) is judged as IPv4.
func nonPublicReason(ip netip.Addr) string {
	ip = ip.Unmap()
	if nat64.Contains(ip) {
		b := ip.As16()
		ip = netip.AddrFrom4([4]byte(b[12:]))
	}
	switch {
	case ip.IsLoopback():
		return "loopback"
	case ip.IsLinkLocalUnicast():
		return "link-local"
	case ip.IsPrivate():
		return "private"
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsMulticast():
		return "multicast"
	}
	for _, r := range nonPublic {
		if r.prefix.Contains(ip) {
			return r.what
		}
	}
	return ""
}

// checkDestination is the dialer's Control: it runs for every address the
// dialer connects to, after resolution, before the connection is made.
func checkDestination(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrCallbackDestination, address)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrCallbackDestination, address)
	}
	if why := nonPublicReason(ip); why != "" {
		return fmt.Errorf("%w: %s is %s, and callbacks go to public addresses only", ErrCallbackDestination, ip, why)
	}
	return nil
}

// errRedirect is a callback answered with a redirect, which is not followed: the
// receiver's URL is the one configured, and a redirect could point anywhere.
var errRedirect = errors.New("redirect not followed")

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
	model, id, err := r.contextRecord(ctx, c.ContextID)
	if err != nil {
		return err
	}
	if model != "" && id != 0 {
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

// callbackClient is the client callbacks go through: r.HTTP (nil: a default one)
// with redirects not followed, dialled directly (no proxy: the address checked is
// the one reached) and, unless AllowPrivateCallbacks, only to public addresses.
func (r *Runner) callbackClient() (*http.Client, error) {
	r.clientOnce.Do(func() {
		client := http.Client{}
		if r.HTTP != nil {
			client = *r.HTTP
		}
		var transport *http.Transport
		switch t := client.Transport.(type) {
		case nil:
			transport = http.DefaultTransport.(*http.Transport).Clone()
		case *http.Transport:
			transport = t.Clone()
		default:
			r.clientErr = fmt.Errorf("callbacks need an *http.Transport in Runner.HTTP to check where they connect, not a %T", t)
			return
		}
		transport.Proxy = nil
		dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
		if !r.AllowPrivateCallbacks {
			dialer.Control = checkDestination
		}
		transport.DialContext = dialer.DialContext
		transport.DialTLSContext, transport.DialTLS = nil, nil // TLS over the checked connection
		client.Transport = transport
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		r.client = &client
	})
	return r.client, r.clientErr
}

// post sends one callback with retries and decodes its optional answer.
func (r *Runner) post(ctx context.Context, target, secret, delivery string, body []byte) (CallbackAnswer, error) {
	client, err := r.callbackClient()
	if err != nil {
		return CallbackAnswer{}, err
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
	// Each attempt is signed at its own time: a retry is not a replay.
	timestamp := r.now().Unix()
	req.Header.Set(CallbackTimestampHeader, strconv.FormatInt(timestamp, 10))
	if secret != "" {
		req.Header.Set(CallbackSignatureHeader, SignCallback([]byte(secret), timestamp, body))
	}
	resp, err := client.Do(req)
	if err != nil {
		// The URL (with any token in it) stays out of the error.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		// A refused destination stays refused.
		return answer, !errors.Is(err, ErrCallbackDestination), err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		// The answer is optional: anything but {"reply": ...} means no reply.
		_ = json.Unmarshal(raw, &answer)
		return answer, false, nil
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return answer, false, fmt.Errorf("HTTP %d: %w", resp.StatusCode, errRedirect)
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return answer, true, fmt.Errorf("HTTP %d", resp.StatusCode)
	default:
		return answer, false, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
}
