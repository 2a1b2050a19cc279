package sidecar

import (
	"context"
	"time"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/config"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/sandbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
)

// Sandbox credentials: the built-in emulator accepts nothing else, and they are
// never valid at Meta.
const (
	sandboxToken  = "sandbox-access-token"
	sandboxSecret = "sandbox-app-secret"
	sandboxVerify = "sandbox-verify-token"
)

// startSandbox starts the emulator and points env (the overrides of every account)
// at it, with its credentials; status and inbound webhooks come back to the daemon's
// own webhook listener, signed. Then it serves the phone page on SANDBOX_ADDR, where
// a person sees the conversations and plays the customer.
func (d *Daemon) startSandbox(ctx context.Context, env *config.WhatsApp) error {
	phoneNumberID := env.PhoneNumberID
	if phoneNumberID == "" {
		phoneNumberID = emulator.DefaultPhoneNumberID
	}
	d.emu = emulator.New(emulator.Config{
		AccessToken: sandboxToken, AppSecret: sandboxSecret, PhoneNumberID: phoneNumberID,
		WebhookURL: "http://" + d.webhook.Addr() + "/whatsapp/webhook",
		Knobs:      emulator.Knobs{StatusDelay: 300 * time.Millisecond, WebhookMaxAttempts: 5, WebhookRetryDelay: time.Second},
		Logger:     d.logger.With("component", "emulator"),
	})
	err := d.emu.Start(ctx, "127.0.0.1:0")
	if err != nil {
		return err
	}
	env.APIURL = d.emu.BaseURL()
	env.AccessToken, env.AppSecret, env.VerifyToken = sandboxToken, sandboxSecret, sandboxVerify
	env.PhoneNumberID = phoneNumberID
	if env.WABAID == "" {
		env.WABAID = emulator.DefaultWABAID
	}
	if d.page, err = sandbox.Start(ctx, d.cfg.SandboxAddr, sandbox.Options{
		Emulator: d.emu, Pool: d.pool, Logger: d.logger.With("component", "sandbox"),
	}); err != nil {
		return err
	}
	d.logger.Warn("SANDBOX: open "+d.page.URL()+" to see every message and tap the buttons as the customer; "+
		"messages go to the built-in Cloud API emulator and never reach a phone", "page", d.page.URL(), "emulator", d.emu.URL())
	return nil
}

// SandboxAddr is the bound address of the sandbox's phone page (SANDBOX_ADDR), ""
// outside sandbox mode.
func (d *Daemon) SandboxAddr() string {
	if d.page == nil {
		return ""
	}
	return d.page.Addr()
}

// SandboxURL is the sandbox's phone page, e.g. "http://127.0.0.1:8090/", ""
// outside sandbox mode.
func (d *Daemon) SandboxURL() string {
	if d.page == nil {
		return ""
	}
	return d.page.URL()
}
