package whatsapp

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// protoServer records the protocol of every request it serves (the probe
// included).
type protoServer struct {
	mu     sync.Mutex
	protos []string
}

func (p *protoServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.protos = append(p.protos, r.Method+" "+r.Proto)
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(okSend))
}

func (p *protoServer) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.protos...)
}

func sendTwice(t *testing.T, url string) {
	t.Helper()
	hc := NewHTTPClient()
	t.Cleanup(hc.CloseIdleConnections)
	c, err := NewClient(Options{BaseURL: url, AccessToken: secretToken, HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := c.Send(context.Background(), "106540352242922", TextMessage("+221771234567", "hi")); err != nil {
			t.Fatal(err)
		}
	}
}

func TestClientUsesH2CWhenOffered(t *testing.T) {
	t.Parallel()
	ps := &protoServer{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: ps, Protocols: &protocols}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	sendTwice(t, "http://"+ln.Addr().String()+"/v21.0")
	want := []string{"GET HTTP/2.0", "POST HTTP/2.0", "POST HTTP/2.0"}
	if got := ps.seen(); len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("requests %q, want %q (the probe, then the sends over h2c)", got, want)
	}
}

func TestClientKeepsHTTP1WithoutH2C(t *testing.T) {
	t.Parallel()
	ps := &protoServer{}
	srv := httptest.NewServer(ps)
	t.Cleanup(srv.Close)

	sendTwice(t, srv.URL+"/v21.0")
	got := ps.seen()
	// The probe's preface reaches an HTTP/1.1 server as a PRI request.
	want := []string{"PRI HTTP/2.0", "POST HTTP/1.1", "POST HTTP/1.1"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("requests %q, want %q", got, want)
	}
}
