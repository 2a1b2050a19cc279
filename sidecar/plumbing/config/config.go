// Package config reads the sidecar's settings from the environment (go-envconfig) and
// validates them at start, with errors that name the variable. Every variable can
// also be given as NAME_FILE, the path of a file holding the value (Docker and
// Kubernetes secrets). Secrets are of type Secret, which never prints its value.
//
// The business switches (automatic sends, reminder days, texts) are not here: they
// live in Odoo's whatsapp_config rows. Where a variable below and the active row both
// set a value (token, phone number id, app secret, verify token, WABA id), the
// environment wins.
package config

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sethvargo/go-envconfig"
)

// Config is the whole environment of `whatsapp-sidecar run`.
type Config struct {
	// DatabaseURL is Odoo's PostgreSQL database, as a URL or key=value string.
	DatabaseURL Secret `env:"DATABASE_URL, required"`

	WhatsApp WhatsApp
	Odoo     Odoo

	// WebhookAddr is the public listener for Meta's webhook.
	WebhookAddr string `env:"WEBHOOK_ADDR, default=:8080"`
	// MetricsAddr serves /metrics, /healthz and /readyz: loopback by default, so
	// nothing private is exposed until an operator chooses where Prometheus scrapes.
	MetricsAddr string `env:"METRICS_ADDR, default=127.0.0.1:9464"`
	// Sandbox makes `run` talk to the built-in Cloud API emulator instead of Meta
	// (as `run --sandbox` and `demo` do): nothing reaches a phone. Only when asked: a
	// production install without a token keeps its messages queued instead.
	Sandbox bool `env:"WHATSAPP_SANDBOX, default=false"`
	// SandboxAddr serves the sandbox's phone page, in sandbox mode only.
	SandboxAddr string `env:"SANDBOX_ADDR, default=127.0.0.1:8090"`
	// ShutdownTimeout bounds the graceful stop: in-flight sends and HTTP requests.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT, default=30s"`
	// SendTimeout bounds one send to Meta, media upload included.
	SendTimeout time.Duration `env:"SEND_TIMEOUT, default=60s"`
	// UnknownResendAfter is what becomes of a send whose answer was lost (a crash
	// mid-send, a timeout) and that Meta's status webhooks never settle: sent again
	// this long after it became unknown; Never holds it for a person.
	UnknownResendAfter Resend `env:"UNKNOWN_RESEND_AFTER, default=15m"`
	// SendLease is a variable of earlier versions, refused with a hint: claims now
	// die with their process, and UNKNOWN_RESEND_AFTER decides about lost answers.
	SendLease string `env:"SEND_LEASE"`

	// AllowPrivateCallbacks lets http_callback button actions reach loopback,
	// link-local and private addresses (your own network); off, only public ones.
	AllowPrivateCallbacks bool `env:"ALLOW_PRIVATE_CALLBACKS, default=false"`

	// DiscussInbox makes every WhatsApp conversation a Discuss channel of its
	// operators (package worker/discuss); off, Discuss shows nothing of WhatsApp.
	DiscussInbox bool `env:"DISCUSS_INBOX, default=true"`

	// DebugPprof serves Go's profiles at /debug/pprof/ on METRICS_ADDR.
	DebugPprof bool `env:"DEBUG_PPROF, default=false"`

	LogLevel  string `env:"LOG_LEVEL, default=info"`
	LogFormat string `env:"LOG_FORMAT"` // text, json, or empty: text on a terminal, JSON otherwise
}

// WhatsApp is the Meta account used when no whatsapp_config row says otherwise, and
// the values that override the active row.
type WhatsApp struct {
	AccessToken   Secret `env:"WHATSAPP_ACCESS_TOKEN"`
	PhoneNumberID string `env:"WHATSAPP_PHONE_NUMBER_ID"`
	WABAID        string `env:"WHATSAPP_WABA_ID"`
	AppSecret     Secret `env:"WHATSAPP_APP_SECRET"`
	VerifyToken   Secret `env:"WHATSAPP_VERIFY_TOKEN"`
	// APIURL is the Graph API base with its version; the emulator's URL in tests.
	APIURL string `env:"WHATSAPP_API_URL, default=https://graph.facebook.com/v21.0"`
}

// Odoo is how to reach Odoo itself (its external API and report URLs), optional:
// without it the sidecar works on the database alone.
type Odoo struct {
	URL      string `env:"ODOO_URL"`
	DB       string `env:"ODOO_DB"`
	User     string `env:"ODOO_USER"`
	Password Secret `env:"ODOO_PASSWORD"`
	// DataDir is Odoo's data_dir, to read attachments from its filestore.
	DataDir string `env:"ODOO_DATA_DIR"`
	// MaxConcurrentReports bounds the invoice reports Odoo renders for the sidecar
	// at once (each takes an Odoo worker and wkhtmltopdf); zero means 1.
	MaxConcurrentReports int `env:"ODOO_MAX_CONCURRENT_REPORTS, default=1"`
}

// Load reads and validates the configuration from lookup (nil means the process
// environment).
func Load(ctx context.Context, lookup envconfig.Lookuper) (*Config, error) {
	if lookup == nil {
		lookup = envconfig.OsLookuper()
	}
	var cfg Config
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &cfg, Lookuper: fileLookuper{lookup}}); err != nil {
		return nil, fmt.Errorf("configuration: %s", nameVariables(err.Error(), reflect.TypeOf(cfg)))
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return &cfg, nil
}

// fileLookuper resolves NAME from NAME_FILE when NAME itself is unset.
type fileLookuper struct{ next envconfig.Lookuper }

func (l fileLookuper) Lookup(key string) (string, bool) {
	if v, ok := l.next.Lookup(key); ok {
		return v, true
	}
	path, ok := l.next.Lookup(key + "_FILE")
	if !ok || path == "" {
		return "", false
	}
	b, err := os.ReadFile(path)
	if err != nil {
		// envconfig cannot carry an error from a Lookuper; a value that fails
		// validation names the variable and the file.
		return fileError + key + "_FILE: " + err.Error(), true
	}
	return strings.TrimRight(string(b), "\r\n"), true
}

const fileError = "\x00unreadable "

// nameVariables rewrites envconfig's "GoField: ..." messages as "ENV_NAME: ...", so
// the user reads the variable they set.
func nameVariables(msg string, t reflect.Type) string {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		field := regexp.MustCompile(`\b` + f.Name + `: `)
		if f.Type.Kind() == reflect.Struct {
			msg = nameVariables(field.ReplaceAllString(msg, ""), f.Type)
			continue
		}
		if name, _, _ := strings.Cut(f.Tag.Get("env"), ","); name != "" {
			msg = field.ReplaceAllString(msg, name+": ")
		}
	}
	return msg
}

func (c *Config) validate() error {
	var errs []error
	for _, value := range []Secret{c.DatabaseURL, c.WhatsApp.AccessToken, c.WhatsApp.AppSecret, c.WhatsApp.VerifyToken, c.Odoo.Password} {
		if strings.HasPrefix(value.Reveal(), fileError) {
			errs = append(errs, errors.New(strings.TrimPrefix(value.Reveal(), "\x00")))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}

	if _, err := pgx.ParseConfig(c.DatabaseURL.Reveal()); err != nil {
		// pgx's message may quote the URL, password included: say only where.
		errs = append(errs, errors.New("DATABASE_URL: not a valid PostgreSQL connection string (postgres://user:password@host:5432/dbname)"))
	}
	if err := checkURL(c.WhatsApp.APIURL); err != nil {
		errs = append(errs, fmt.Errorf("WHATSAPP_API_URL: %w", err))
	}
	for _, v := range []struct{ name, addr string }{{"WEBHOOK_ADDR", c.WebhookAddr}, {"METRICS_ADDR", c.MetricsAddr}, {"SANDBOX_ADDR", c.SandboxAddr}} {
		if _, _, err := net.SplitHostPort(v.addr); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not host:port (e.g. :8080 or 127.0.0.1:8080)", v.name, v.addr))
		}
	}
	if _, port, _ := net.SplitHostPort(c.WebhookAddr); c.WebhookAddr == c.MetricsAddr && port != "0" {
		errs = append(errs, fmt.Errorf("METRICS_ADDR: must differ from WEBHOOK_ADDR (%s): metrics stay off the public listener", c.WebhookAddr))
	}
	if _, err := ParseLevel(c.LogLevel); err != nil {
		errs = append(errs, fmt.Errorf("LOG_LEVEL: %w", err))
	}
	switch c.LogFormat {
	case "", "text", "json":
	default:
		errs = append(errs, fmt.Errorf("LOG_FORMAT: %q is not text or json", c.LogFormat))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("SHUTDOWN_TIMEOUT: must be positive"))
	}
	if c.SendLease != "" {
		errs = append(errs, errors.New("SEND_LEASE: no longer used (a crashed sender's claims now end with it); "+
			"remove it, and set UNKNOWN_RESEND_AFTER for the sends whose answer was lost"))
	}
	if c.SendTimeout < time.Second {
		errs = append(errs, errors.New("SEND_TIMEOUT: at least 1s"))
	}
	// A live sender's request ends within SEND_TIMEOUT and its answer is recorded
	// then: a resend must never come first, or the message would go twice.
	if d := c.UnknownResendAfter.Duration(); d != 0 && d <= c.SendTimeout {
		errs = append(errs, fmt.Errorf("UNKNOWN_RESEND_AFTER: %s must be longer than SEND_TIMEOUT (%s), or never", d, c.SendTimeout))
	}
	if c.Odoo.URL != "" {
		if err := checkURL(c.Odoo.URL); err != nil {
			errs = append(errs, fmt.Errorf("ODOO_URL: %w", err))
		}
		for _, v := range []struct{ name, value string }{{"ODOO_DB", c.Odoo.DB}, {"ODOO_USER", c.Odoo.User}, {"ODOO_PASSWORD", c.Odoo.Password.Reveal()}} {
			if v.value == "" {
				errs = append(errs, fmt.Errorf("%s: required when ODOO_URL is set", v.name))
			}
		}
	}
	return errors.Join(errs...)
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", raw)
	}
	return nil
}

// Resend is a duration, or never (stored as 0).
type Resend time.Duration

// Never is the Resend that never resends.
const Never Resend = 0

// Duration is r as a time.Duration, 0 for never.
func (r Resend) Duration() time.Duration { return time.Duration(r) }

// UnmarshalText reads a Go duration (15m, 1h) or never.
func (r *Resend) UnmarshalText(b []byte) error {
	switch s := strings.TrimSpace(string(b)); s {
	case "never", "off", "0":
		*r = Never
		return nil
	default:
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return fmt.Errorf("%q is not a duration (15m, 1h) or never", s)
		}
		*r = Resend(d)
		return nil
	}
}

// ParseLevel reads debug, info, warn or error.
func ParseLevel(s string) (slog.Level, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("%q is not debug, info, warn or error", s)
	}
	return level, nil
}

// Secret is a configuration value that must never be printed: in logs, errors,
// fmt verbs and JSON it shows as "[redacted]" (or "" when unset).
type Secret string

// Reveal returns the value, for the one place that needs it.
func (s Secret) Reveal() string { return string(s) }

// IsSet says whether a value was given.
func (s Secret) IsSet() bool { return s != "" }

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString covers %#v.
func (s Secret) GoString() string { return s.String() }

// LogValue covers slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText covers JSON and other encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText lets envconfig fill a Secret; without it, MarshalText's presence
// would make envconfig expect one.
func (s *Secret) UnmarshalText(b []byte) error { *s = Secret(b); return nil }
