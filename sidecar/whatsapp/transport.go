package whatsapp

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// probeTimeout bounds the one request that asks an http:// server whether it
// speaks HTTP/2.
const probeTimeout = 5 * time.Second

// reprobeAfter is how long a failed probe (server not answering) is trusted
// before the next request probes again.
const reprobeAfter = 5 * time.Second

// h2cTransport uses HTTP/2 wherever the server offers it, so a thousand
// requests in flight share a few connections: https:// negotiates it by ALPN as
// usual; an http:// host (the emulator, a local proxy) is asked once, with an
// unencrypted HTTP/2 request, and its requests go over h2c if it answered, over
// HTTP/1.1 otherwise.
type h2cTransport struct {
	h1  *http.Transport // HTTP/1.1, and HTTP/2 over TLS
	h2c *http.Transport // HTTP/2 with prior knowledge over TCP

	mu    sync.Mutex
	hosts map[string]*hostProtocol
}

type hostProtocol struct {
	probing bool
	known   bool
	h2c     bool
	retry   time.Time // when an unanswered probe may run again
}

func newH2CTransport(h1 *http.Transport) *h2cTransport {
	h2c := h1.Clone()
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	h2c.Protocols = &p
	return &h2cTransport{h1: h1, h2c: h2c, hosts: map[string]*hostProtocol{}}
}

func (t *h2cTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" {
		return t.h1.RoundTrip(req)
	}
	host := req.URL.Host
	if !t.useH2C(req.Context(), host) {
		return t.h1.RoundTrip(req)
	}
	resp, err := t.h2c.RoundTrip(req)
	if err != nil {
		// The server may have been replaced by one without h2c: ask again next time.
		t.forget(host)
	}
	return resp, err
}

// useH2C reports whether host speaks h2c, probing it on first use. Requests
// that arrive while the probe runs use HTTP/1.1 rather than wait.
func (t *h2cTransport) useH2C(ctx context.Context, host string) bool {
	t.mu.Lock()
	hp := t.hosts[host]
	if hp == nil {
		hp = &hostProtocol{}
		t.hosts[host] = hp
	}
	if hp.known || hp.probing || time.Now().Before(hp.retry) {
		h2c := hp.known && hp.h2c
		t.mu.Unlock()
		return h2c
	}
	hp.probing = true
	t.mu.Unlock()

	h2c, known := t.probe(ctx, host)
	t.mu.Lock()
	hp.probing, hp.known, hp.h2c = false, known, h2c
	if !known {
		hp.retry = time.Now().Add(reprobeAfter)
	}
	t.mu.Unlock()
	return h2c
}

// probe sends one HTTP/2 request without a body to host: any answer means it
// speaks h2c; a connection that fails after it was made means it does not;
// no connection at all means nothing is known yet.
func (t *h2cTransport) probe(ctx context.Context, host string) (h2c, known bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/", nil)
	if err != nil {
		return false, false
	}
	resp, err := t.h2c.RoundTrip(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return resp.ProtoMajor == 2, true
	}
	if opErr, ok := errors.AsType[*net.OpError](err); ok && opErr.Op == "dial" {
		return false, false
	}
	if ctx.Err() != nil {
		return false, false
	}
	return false, true
}

func (t *h2cTransport) forget(host string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.hosts, host)
}

// CloseIdleConnections closes both transports' idle connections.
func (t *h2cTransport) CloseIdleConnections() {
	t.h1.CloseIdleConnections()
	t.h2c.CloseIdleConnections()
}
