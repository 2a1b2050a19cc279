package config_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/config"
)

const dbURL = "postgres://odoo:s3cr3t-db@127.0.0.1:5432/odoo16"

func TestLoadErrorsNameTheVariable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"MissingDatabaseURL", map[string]string{}, "DATABASE_URL"},
		{"BadDatabaseURL", map[string]string{"DATABASE_URL": "postgres://u:pw@[::1"}, "DATABASE_URL: not a valid"},
		{"BadAPIURL", map[string]string{"DATABASE_URL": dbURL, "WHATSAPP_API_URL": "graph.facebook.com"}, "WHATSAPP_API_URL"},
		{"BadWebhookAddr", map[string]string{"DATABASE_URL": dbURL, "WEBHOOK_ADDR": "8080"}, "WEBHOOK_ADDR"},
		{"SameAddrs", map[string]string{"DATABASE_URL": dbURL, "WEBHOOK_ADDR": ":9000", "METRICS_ADDR": ":9000"}, "METRICS_ADDR: must differ"},
		{"BadLogLevel", map[string]string{"DATABASE_URL": dbURL, "LOG_LEVEL": "loud"}, "LOG_LEVEL"},
		{"BadLogFormat", map[string]string{"DATABASE_URL": dbURL, "LOG_FORMAT": "xml"}, "LOG_FORMAT"},
		{"OdooURLWithoutCredentials", map[string]string{"DATABASE_URL": dbURL, "ODOO_URL": "http://127.0.0.1:8069"}, "ODOO_PASSWORD: required"},
		{"UnreadableSecretFile", map[string]string{"DATABASE_URL": dbURL, "WHATSAPP_ACCESS_TOKEN_FILE": "/nonexistent/token"}, "WHATSAPP_ACCESS_TOKEN_FILE"},
		{"BadShutdownTimeout", map[string]string{"DATABASE_URL": dbURL, "SHUTDOWN_TIMEOUT": "soon"}, "SHUTDOWN_TIMEOUT"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load(context.Background(), envconfig.MapLookuper(c.env))
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("Load error = %v, want one naming %q", err, c.wantErr)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error leaks the database password: %v", err)
			}
		})
	}
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load(context.Background(), envconfig.MapLookuper(map[string]string{"DATABASE_URL": dbURL}))
	if err != nil {
		t.Fatal(err)
	}
	// Metrics and the sandbox page stay on loopback unless an operator opens them;
	// the sandbox itself runs only when asked.
	if cfg.WhatsApp.APIURL != "https://graph.facebook.com/v21.0" || cfg.WebhookAddr != ":8080" || cfg.MetricsAddr != "127.0.0.1:9464" ||
		cfg.SandboxAddr != "127.0.0.1:8090" || cfg.Sandbox || cfg.LogLevel != "info" {
		t.Errorf("defaults: api %q webhook %q metrics %q sandbox %v on %q level %q",
			cfg.WhatsApp.APIURL, cfg.WebhookAddr, cfg.MetricsAddr, cfg.Sandbox, cfg.SandboxAddr, cfg.LogLevel)
	}
}

func TestSecretsFromFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("EAAG-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(context.Background(), envconfig.MapLookuper(map[string]string{
		"DATABASE_URL":               dbURL,
		"WHATSAPP_ACCESS_TOKEN_FILE": token,
		"WHATSAPP_APP_SECRET":        "from-env",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.WhatsApp.AccessToken.Reveal(); got != "EAAG-from-file" {
		t.Errorf("token from file = %q, want the file's content without its newline", got)
	}
	if got := cfg.WhatsApp.AppSecret.Reveal(); got != "from-env" {
		t.Errorf("app secret = %q", got)
	}
}

// However a Config is printed or logged, secrets stay hidden.
func TestSecretsNeverPrinted(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load(context.Background(), envconfig.MapLookuper(map[string]string{
		"DATABASE_URL":          dbURL,
		"WHATSAPP_ACCESS_TOKEN": "EAAG-s3cr3t-token",
		"WHATSAPP_APP_SECRET":   "s3cr3t-app",
		"ODOO_URL":              "http://127.0.0.1:8069", "ODOO_DB": "odoo16", "ODOO_USER": "admin", "ODOO_PASSWORD": "s3cr3t-odoo",
	}))
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "cfg", cfg, "token", cfg.WhatsApp.AccessToken)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "token", cfg.WhatsApp.AccessToken)
	asJSON, _ := json.Marshal(cfg)
	for _, out := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), string(asJSON), logged.String()} {
		if strings.Contains(out, "s3cr3t") {
			t.Errorf("a secret is printed: %s", out)
		}
	}
}

func TestParseErrorsNameNestedVariables(t *testing.T) {
	t.Parallel()
	// envconfig reports parse errors by Go field; the user must read the variable.
	_, err := config.Load(context.Background(), envconfig.MapLookuper(map[string]string{
		"DATABASE_URL": dbURL, "SHUTDOWN_TIMEOUT": "1x",
	}))
	if err == nil || !strings.HasPrefix(err.Error(), "configuration: SHUTDOWN_TIMEOUT: ") {
		t.Errorf("error = %v, want it to start with the variable name", err)
	}
}

// The resend of a send whose answer was lost must wait longer than a live
// request can take, and SEND_LEASE is refused with what replaces it.
func TestUnknownResendPolicy(t *testing.T) {
	t.Parallel()
	load := func(env map[string]string) (*config.Config, error) {
		env["DATABASE_URL"] = dbURL
		return config.Load(context.Background(), envconfig.MapLookuper(env))
	}
	cfg, err := load(map[string]string{})
	if err != nil || cfg.UnknownResendAfter.Duration() != 15*time.Minute || cfg.SendTimeout != time.Minute {
		t.Fatalf("defaults: %v, %v; want 15m and a 1m send timeout", cfg, err)
	}
	if cfg, err := load(map[string]string{"UNKNOWN_RESEND_AFTER": "never"}); err != nil || cfg.UnknownResendAfter != config.Never {
		t.Errorf("never: %v, %v", cfg, err)
	}
	for env, want := range map[string]string{
		"UNKNOWN_RESEND_AFTER=30s":  "must be longer than SEND_TIMEOUT",
		"UNKNOWN_RESEND_AFTER=soon": "UNKNOWN_RESEND_AFTER",
		"SEND_LEASE=2m":             "SEND_LEASE: no longer used",
		"SEND_TIMEOUT=20m":          "must be longer than SEND_TIMEOUT",
	} {
		k, v, _ := strings.Cut(env, "=")
		if _, err := load(map[string]string{k: v}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one saying %q", env, err, want)
		}
	}
}
