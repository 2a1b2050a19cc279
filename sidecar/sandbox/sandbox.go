// Package sandbox serves the sandbox's phone page: every conversation the built-in
// Cloud API emulator holds, shown as the customer's phone would show it (the
// business's messages with their delivery ticks, reply buttons, documents, images
// and templates; the customer's own messages on the other side), live, with an
// "in Odoo" panel per chat showing the order or invoice the messages are about, its
// state and its x_whatsapp_* flags.
//
// A person taps a button or types a text on the page as the customer; it goes to
// the emulator, which posts it to the sidecar's webhook, signed, as Meta would.
//
// The page is only for sandbox mode (it needs the emulator) and listens on loopback
// unless told otherwise (SANDBOX_ADDR). Its assets are embedded: nothing is built
// or fetched at run time.
//
// Messages reach the browsers through one subscription to the emulator's event
// feed, turned into the page's form once and pushed to every open page over
// server-sent events. The database is read when something happens (a message, a
// status, a page opened or its Odoo panel asked for), never in a loop per browser.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/server"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
)

// Options configure the page server. Emulator and Pool are required.
type Options struct {
	// Emulator is the sandbox's Cloud API emulator: the conversations shown, and
	// where the customer's taps go.
	Emulator *emulator.Server
	// Pool is Odoo's database: names, the records messages are about, their
	// flags, the configuration's language.
	Pool *pgxpool.Pool
	// Logger defaults to discarding.
	Logger *slog.Logger
}

// Server is the page server. Create it with Start; Close stops it.
type Server struct {
	opts Options
	log  *slog.Logger
	hub  *hub
	http *server.Server

	stopHub context.CancelFunc
	hubDone chan struct{}
	closing chan struct{} // closed by Close: event streams end
	once    sync.Once
	err     error
}

// Start binds addr (host:port; port 0 picks a free one) and serves the page in
// the background until Close. A non-loopback address is served as asked, with a
// warning: whoever reaches it can act as any customer.
func Start(ctx context.Context, addr string, o Options) (*Server, error) {
	if o.Emulator == nil || o.Pool == nil {
		return nil, errors.New("sandbox: Options.Emulator and Options.Pool are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: o, log: o.Logger, closing: make(chan struct{}), hubDone: make(chan struct{})}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("sandbox page: %q is not host:port", addr)
	}
	loopback := isLoopbackHost(host)
	s.hub = newHub(o.Emulator, &odooReader{pool: o.Pool}, o.Logger)
	if s.http, err = server.Listen(addr, "sandbox", s.handler(loopback), o.Logger); err != nil {
		s.hub.feed.Close()
		return nil, err
	}
	if !loopback {
		o.Logger.Warn("the sandbox page is reachable beyond this machine: anyone who reaches it can act as a customer",
			"addr", s.http.Addr())
	}
	hubCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stopHub = cancel
	go func() {
		defer close(s.hubDone)
		s.hub.run(hubCtx)
	}()
	return s, nil
}

// Addr is the bound address, e.g. "127.0.0.1:8090".
func (s *Server) Addr() string { return s.http.Addr() }

// URL is the page's address, e.g. "http://127.0.0.1:8090/".
func (s *Server) URL() string {
	host, port, err := net.SplitHostPort(s.Addr())
	if err != nil {
		return "http://" + s.Addr() + "/"
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		host = "127.0.0.1" // bound to every interface: this machine's browser uses loopback
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// Close ends the open pages' event streams (they reconnect to whatever serves
// next), stops the listener within ctx, and stops reading the emulator's feed.
// Later calls return the first call's result.
func (s *Server) Close(ctx context.Context) error {
	s.once.Do(func() {
		close(s.closing)
		err := s.http.Shutdown(ctx)
		s.stopHub()
		<-s.hubDone
		if err != nil {
			s.err = fmt.Errorf("sandbox page: %w", err)
		}
	})
	return s.err
}

// isLoopbackHost says whether a listener on host is reachable from this machine
// only: "localhost" or a loopback address ("" and 0.0.0.0 are every interface).
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && ip.IsLoopback()
}
