package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
)

// runEmulator serves the WhatsApp Cloud API emulator until ctx is cancelled:
//
//	whatsapp-sidecar emulator --addr 127.0.0.1:8090 --access-token T --app-secret S --webhook-url URL [knobs]
func runEmulator(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg       emulator.Config
		k         emulator.Knobs
		addr      = fs.String("addr", "127.0.0.1:8090", "listen address `HOST:PORT`")
		templates = fs.String("templates", "", "template catalogue: JSON `file` with an array of templates or a Graph page {\"data\":[...]} (default: hello_world)")
		verbose   = fs.Bool("verbose", false, "log webhook failures to stderr")
	)
	fs.StringVar(&cfg.AccessToken, "access-token", "", "bearer `token` the API accepts (required)")
	fs.StringVar(&cfg.AppSecret, "app-secret", "", "app `secret` signing webhooks (X-Hub-Signature-256)")
	fs.StringVar(&cfg.WebhookURL, "webhook-url", "", "`URL` receiving status and inbound webhooks (empty: none)")
	fs.StringVar(&cfg.APIVersion, "api-version", emulator.DefaultAPIVersion, "Graph API `version` of the URLs handed out")
	fs.StringVar(&cfg.PhoneNumberID, "phone-number-id", emulator.DefaultPhoneNumberID, "business phone number `ID` in webhooks")
	fs.StringVar(&cfg.DisplayPhoneNumber, "display-phone-number", emulator.DefaultDisplayPhoneNumber, "business display phone `number` in webhooks")
	fs.StringVar(&cfg.WABAID, "waba-id", emulator.DefaultWABAID, "WhatsApp Business Account `ID`")
	fs.DurationVar(&k.Latency, "latency", 0, "latency added to every API answer")
	fs.DurationVar(&k.LatencyJitter, "latency-jitter", 0, "uniform random latency added on top of --latency")
	fs.Float64Var(&k.ThroughputCap, "throughput-cap", 0, "answer 130429 beyond this many messages/s per phone number (0: no cap)")
	fs.DurationVar(&k.PairRateEvery, "pair-rate-every", 0, "pair rate limit (131056): one message per this duration to one user (0: off; Meta: 6s)")
	fs.IntVar(&k.PairRateBurst, "pair-rate-burst", 45, "pair rate limit burst")
	fs.BoolVar(&k.SyncFailures, "sync-failures", false, "answer recipient failures (131026, 131030, 131047) with HTTP 400 instead of a failed status webhook")
	fs.BoolVar(&k.RequireWindow, "require-window", false, "enforce the 24 h customer service window (131047 unless the user wrote in the last 24 h)")
	fs.DurationVar(&k.StatusDelay, "status-delay", 100*time.Millisecond, "delay between sent, delivered and read webhooks")
	fs.StringVar(&k.StopAt, "stop-at", "read", "last status reported: sent, delivered or read")
	fs.Float64Var(&k.DuplicateRate, "duplicate-rate", 0, "probability that a status webhook is delivered twice")
	fs.Float64Var(&k.ReorderRate, "reorder-rate", 0, "probability that a message's statuses arrive in reverse order")
	fs.IntVar(&k.WebhookMaxAttempts, "webhook-max-attempts", 5, "webhook deliveries per payload when the receiver fails")
	fs.DurationVar(&k.WebhookRetryDelay, "webhook-retry-delay", time.Second, "first webhook retry delay (doubles each attempt)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("emulator: unexpected arguments %q", fs.Args())
	}
	if cfg.AccessToken == "" {
		return errors.New("emulator: --access-token is required")
	}
	if *templates != "" {
		ts, err := emulator.ReadTemplates(*templates)
		if err != nil {
			return fmt.Errorf("emulator: %w", err)
		}
		cfg.Templates = ts
	}
	level := slog.LevelError
	if *verbose {
		level = slog.LevelInfo
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg.Knobs = k

	srv := emulator.New(cfg)
	if err := srv.Start(ctx, *addr); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "WhatsApp Cloud API emulator listening on %s (base URL %s)\n", srv.URL(), srv.BaseURL())
	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Close(shutdownCtx); err != nil {
		return fmt.Errorf("emulator shutdown: %w", err)
	}
	return nil
}
