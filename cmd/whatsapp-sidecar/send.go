package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sethvargo/go-envconfig"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/config"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/outbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/actions"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/send"
)

// stringList collects a repeated flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// runSend queues one message (the table is the API: the running sidecar sends it)
// and waits for its status.
func runSend(ctx context.Context, args []string, env envconfig.Lookuper, stdout, stderr io.Writer) error {
	fs := newFlags("send", stderr)
	to := fs.String("to", "", "recipient `phone` number (E.164, or local with the config's default country)")
	partner := fs.Int("partner", 0, "recipient res_partner `id` (its mobile, else phone)")
	text := fs.String("text", "", "send this `text`")
	document := fs.String("document", "", "send this `file` as a document (stored as an Odoo attachment of the message)")
	caption := fs.String("caption", "", "caption of the document")
	template := fs.String("template", "", "send the approved template `name`")
	lang := fs.String("lang", "fr", "template language `code`")
	var params stringList
	fs.Var(&params, "param", "template body parameter, in order (repeat the flag)")
	scenario := fs.String("scenario", "", "start the interactive scenario `name` (whatsapp_interactive_scenario)")
	configID := fs.Int("config", 0, "send from whatsapp_config `id` (default: the active config)")
	wait := fs.Duration("wait", time.Minute, "how long to wait for Meta's answer (0: do not wait)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if (*to == "") == (*partner == 0) {
		return usageError(fs, "give exactly one of --to and --partner")
	}
	chosen := 0
	for _, v := range []string{*text, *document, *template, *scenario} {
		if v != "" {
			chosen++
		}
	}
	if chosen != 1 {
		return usageError(fs, "give exactly one of --text, --document, --template and --scenario")
	}
	_, pool, err := connectPool(ctx, env)
	if err != nil {
		return err
	}
	defer pool.Close()

	m := outbox.Message{Message: notify.Message{Phone: *to, ContactID: *partner, ConfigID: *configID}}
	var id int
	switch {
	case *text != "":
		m.Type, m.Content = "text", *text
	case *document != "":
		data, err := os.ReadFile(*document)
		if err != nil {
			return fmt.Errorf("read document: %w", err)
		}
		m.Type, m.Caption, m.Content = "document", *caption, *caption
		if id, err = send.QueueDocument(ctx, pool, m, *document, data); err != nil {
			return err
		}
	case *template != "":
		m.Type, m.TemplateName, m.TemplateLanguage = "template", *template, *lang
		if len(params) > 0 {
			b, err := json.Marshal([]whatsapp.TemplateComponent{whatsapp.BodyParameters(params...)})
			if err != nil {
				return err
			}
			m.TemplateComponents = string(b)
		}
		m.Content = "Template: " + *template
	case *scenario != "":
		if m.ResID, err = actions.ScenarioID(ctx, pool, *scenario); err != nil {
			return err
		}
		m.Kind, m.ResModel = actions.KindScenario, actions.ScenarioModel
	}
	if id == 0 {
		ids, err := outbox.Enqueue(ctx, pool, m)
		if err != nil {
			return err
		}
		id = ids[0]
	}
	fmt.Fprintf(stdout, "queued message %d\n", id)
	if *wait == 0 {
		return nil
	}
	waitCtx, cancel := context.WithTimeout(ctx, *wait)
	defer cancel()
	s, err := outbox.Wait(waitCtx, pool, id, 200*time.Millisecond)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		hint := ""
		if s.ErrorMessage != "" {
			hint = " (last error: " + s.ErrorMessage + ")"
		}
		return fmt.Errorf("message %d still %s after %s%s: is `whatsapp-sidecar run` running on this database?", id, s.Status, *wait, hint)
	case err != nil:
		return err
	case s.Status == outbox.StatusFailed:
		return fmt.Errorf("message %d failed: %s", id, s.ErrorMessage)
	}
	fmt.Fprintf(stdout, "%s (%s)\n", s.Status, s.WaMessageID)
	return nil
}

// connectPool is what the one-shot commands (send, templates) need: the
// configuration and a pool on Odoo's database.
func connectPool(ctx context.Context, env envconfig.Lookuper) (*config.Config, *pgxpool.Pool, error) {
	cfg, err := config.Load(ctx, env)
	if err != nil {
		return nil, nil, err
	}
	pool, err := pgxpool.New(ctx, cfg.DatabaseURL.Reveal())
	if err != nil {
		return nil, nil, fmt.Errorf("connect to DATABASE_URL: %w", err)
	}
	return cfg, pool, nil
}

func usageError(fs *flag.FlagSet, msg string) error {
	fmt.Fprintln(fs.Output(), msg)
	fs.Usage()
	return errUsage
}
