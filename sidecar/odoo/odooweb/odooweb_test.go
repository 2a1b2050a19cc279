package odooweb_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/odooweb"
)

// Ping asks Odoo's health check as the logged-in user, so the request takes the
// path of a user's request (the database's registry, a cursor, the session check).
func TestPing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		health  func(w http.ResponseWriter)
		wantErr bool
	}{
		{"OdoosHealthCheck", func(w http.ResponseWriter) { w.Write([]byte(`{"status": "pass"}`)) }, false},
		{"ServerError", func(w http.ResponseWriter) { http.Error(w, "busy", http.StatusServiceUnavailable) }, true},
		{"NotOdoo", func(w http.ResponseWriter) { w.Write([]byte(`<html>a proxy's page</html>`)) }, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			logins, withSession, without := 0, 0, 0
			odoo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				switch r.URL.Path {
				case "/web/session/authenticate":
					logins++
					http.SetCookie(w, &http.Cookie{Name: "session_id", Value: "s1", Path: "/"})
					w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{"uid":2}}`))
				case "/web/health":
					if ck, err := r.Cookie("session_id"); err == nil && ck.Value == "s1" {
						withSession++
					} else {
						without++
					}
					c.health(w)
				default:
					http.NotFound(w, r)
				}
			}))
			t.Cleanup(odoo.Close)
			client := &odooweb.Client{URL: odoo.URL, DB: "odoo16", User: "admin", Password: "admin"}
			for range 2 {
				took, err := client.Ping(context.Background())
				if (err != nil) != c.wantErr {
					t.Fatalf("Ping: %v, want an error: %v", err, c.wantErr)
				}
				if err == nil && took <= 0 {
					t.Errorf("Ping took %s", took)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if logins != 1 || withSession != 2 || without != 0 {
				t.Errorf("%d logins, %d health checks with the session, %d without; want 1, 2, 0", logins, withSession, without)
			}
		})
	}
}
