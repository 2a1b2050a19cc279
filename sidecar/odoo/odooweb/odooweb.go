// Package odooweb talks to Odoo's own HTTP server, for what the database alone cannot
// do: run an Odoo method through the external API (JSON-RPC execute_kw, so Odoo's
// business rules run, e.g. sale.order.action_confirm), fetch a report PDF
// (/report/pdf/...) with a session cookie, and time how fast Odoo answers a trivial
// request (Ping). It is optional: without ODOO_URL the sidecar works on the
// database alone.
package odooweb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Client is one Odoo user's access to one Odoo database over HTTP.
type Client struct {
	URL      string // e.g. http://127.0.0.1:8069
	DB       string
	User     string
	Password string
	HTTP     *http.Client // nil: a client with a cookie jar and a 60 s timeout

	once    sync.Once
	mu      sync.Mutex
	uid     int
	authed  bool
	counter atomic.Int64
}

func (c *Client) init() {
	c.once.Do(func() {
		if c.HTTP == nil {
			jar, _ := cookiejar.New(nil)
			c.HTTP = &http.Client{Timeout: 60 * time.Second, Jar: jar}
		}
		c.URL = strings.TrimRight(c.URL, "/")
	})
}

// Error is an error Odoo returned (a JSON-RPC error: access, validation, ...).
type Error struct {
	Message string // Odoo's message for users, e.g. "You cannot confirm..."
	Name    string // exception class, e.g. odoo.exceptions.UserError
}

func (e *Error) Error() string {
	if e.Name != "" {
		return fmt.Sprintf("odoo: %s (%s)", e.Message, e.Name)
	}
	return "odoo: " + e.Message
}

type rpcRequest struct {
	JSONRPC string `json:"jsonrpc"`
	Method  string `json:"method"`
	Params  any    `json:"params"`
	ID      int64  `json:"id"`
}

type rpcResponse struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
		Data    struct {
			Name    string `json:"name"`
			Message string `json:"message"`
		} `json:"data"`
	} `json:"error"`
}

func (c *Client) call(ctx context.Context, path string, params any, result any) error {
	c.init()
	body, err := json.Marshal(rpcRequest{JSONRPC: "2.0", Method: "call", Params: params, ID: c.counter.Add(1)})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("odoo %s: %w", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("odoo %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("odoo %s: HTTP %d", path, resp.StatusCode)
	}
	var r rpcResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("odoo %s: unreadable answer: %w", path, err)
	}
	if r.Error != nil {
		msg := r.Error.Data.Message
		if msg == "" {
			msg = r.Error.Message
		}
		return &Error{Message: msg, Name: r.Error.Data.Name}
	}
	if result != nil {
		if err := json.Unmarshal(r.Result, result); err != nil {
			return fmt.Errorf("odoo %s: unreadable result: %w", path, err)
		}
	}
	return nil
}

// authenticate opens a web session (cookie) and learns the user id, once.
func (c *Client) authenticate(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.authed {
		return nil
	}
	var session struct {
		UID any `json:"uid"`
	}
	err := c.call(ctx, "/web/session/authenticate", map[string]any{"db": c.DB, "login": c.User, "password": c.Password}, &session)
	if err != nil {
		return fmt.Errorf("log in to Odoo as %s: %w", c.User, err)
	}
	uid, ok := session.UID.(float64)
	if !ok || uid == 0 {
		return fmt.Errorf("log in to Odoo as %s: wrong login or password", c.User)
	}
	c.uid, c.authed = int(uid), true
	return nil
}

// ExecuteKw calls model.method(*args, **kwargs) as the configured user, through
// /jsonrpc (the external API), and decodes the result into result (may be nil).
func (c *Client) ExecuteKw(ctx context.Context, model, method string, args []any, kwargs map[string]any, result any) error {
	if err := c.authenticate(ctx); err != nil {
		return err
	}
	if kwargs == nil {
		kwargs = map[string]any{}
	}
	params := map[string]any{
		"service": "object", "method": "execute_kw",
		"args": []any{c.DB, c.uid, c.Password, model, method, args, kwargs},
	}
	if err := c.call(ctx, "/jsonrpc", params, result); err != nil {
		return fmt.Errorf("%s.%s: %w", model, method, err)
	}
	return nil
}

// ErrNotPDF is returned when Odoo answers a report URL with something else (Odoo
// answers 400 HTML when wkhtmltopdf is missing).
var ErrNotPDF = errors.New("odoo did not return a PDF")

// ReportPDF fetches /report/pdf/<report>/<id> with the session cookie.
func (c *Client) ReportPDF(ctx context.Context, report string, id int) ([]byte, error) {
	if err := c.authenticate(ctx); err != nil {
		return nil, err
	}
	url := fmt.Sprintf("%s/report/pdf/%s/%d", c.URL, report, id)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("report %s/%d: %w", report, id, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 100<<20))
	if err != nil {
		return nil, fmt.Errorf("report %s/%d: %w", report, id, err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.HasPrefix(data, []byte("%PDF")) {
		return nil, fmt.Errorf("report %s/%d: HTTP %d: %w", report, id, resp.StatusCode, ErrNotPDF)
	}
	return data, nil
}

// healthPath is Odoo 16's health check (addons/web/controllers/home.py): type http,
// auth none, save_session=False, it answers {"status": "pass"} and does nothing else.
// With our session cookie it still takes the path of every user's request
// (odoo/http.py Request._serve_db): a free HTTP worker (a prefork worker, or a slot
// of ODOO_MAX_HTTP_THREADS), Registry.check_signaling (one query), a database
// cursor from Odoo's pool and check_session. So it queues where users queue, and
// it writes nothing: no session file, no row.
const healthPath = "/web/health"

// Ping times one request to Odoo's health check through one of its workers, with
// the session cookie: the time from the moment a connection was ready until the
// whole answer was read, so neither dialling nor a TLS handshake counts. It logs in
// first when needed (not timed: a login hashes the password, a user's request does
// not). An answer other than 200 {"status": "pass"} is an error.
func (c *Client) Ping(ctx context.Context) (time.Duration, error) {
	if err := c.authenticate(ctx); err != nil {
		return 0, err
	}
	start := time.Now()
	var ready atomic.Pointer[time.Time] // when the connection was ready; set by the transport
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { now := time.Now(); ready.Store(&now) }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, c.URL+healthPath, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, fmt.Errorf("odoo %s: %w", healthPath, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if err != nil {
		return 0, fmt.Errorf("odoo %s: %w", healthPath, err)
	}
	if at := ready.Load(); at != nil {
		start = *at
	}
	took := time.Since(start)
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("odoo %s: HTTP %d", healthPath, resp.StatusCode)
	}
	var health struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(raw, &health); err != nil || health.Status != "pass" {
		return 0, fmt.Errorf("odoo %s: not Odoo's health check (%.60q)", healthPath, raw)
	}
	return took, nil
}
