package main

import (
	"context"
	"fmt"
	"io"

	"github.com/sethvargo/go-envconfig"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/accounts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/templates"
)

// runTemplates is `templates sync`: fetch every active account's templates from Meta
// into whatsapp_template.
func runTemplates(ctx context.Context, args []string, env envconfig.Lookuper, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "sync" {
		fmt.Fprintln(stderr, "usage: whatsapp-sidecar templates sync")
		return errUsage
	}
	fs := newFlags("templates sync", stderr)
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	cfg, pool, err := connectPool(ctx, env)
	if err != nil {
		return err
	}
	defer pool.Close()
	reg := accounts.New(accounts.Options{Env: cfg.WhatsApp})
	if err := reg.Load(ctx, pool); err != nil {
		return err
	}
	if len(reg.All()) == 0 {
		return fmt.Errorf("no active whatsapp_config and no WHATSAPP_PHONE_NUMBER_ID: nothing to sync")
	}
	for _, a := range reg.All() {
		n, err := templates.Sync(ctx, pool, a)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %d templates synced\n", a.Name, n)
	}
	return nil
}
