package main

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sethvargo/go-envconfig"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/config"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/outbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
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
	document := fs.String("document", "", "send this `file` as a document (stored as an Odoo attachment)")
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

	m := outbox.Message{Phone: *to, ContactID: *partner, ConfigID: *configID}
	switch {
	case *text != "":
		m.Type, m.Content = "text", *text
	case *document != "":
		id, name, mimeType, err := storeAttachment(ctx, pool, *document)
		if err != nil {
			return err
		}
		m.Type, m.AttachmentID, m.Caption, m.Content, m.MimeType = "document", id, *caption, *caption, mimeType
		m.Params = map[string]string{"filename": name}
	case *template != "":
		m.Type, m.TemplateName, m.TemplateLanguage = "template", *template, *lang
		if len(params) > 0 {
			comp := whatsapp.BodyParameters(params...)
			b, err := jsonMarshal([]whatsapp.TemplateComponent{comp})
			if err != nil {
				return err
			}
			m.TemplateComponents = b
		}
		m.Content = "Template: " + *template
	case *scenario != "":
		var id int
		err := pool.QueryRow(ctx, `SELECT id FROM whatsapp_interactive_scenario WHERE name = $1 AND COALESCE(active, true) ORDER BY sequence, id LIMIT 1`, *scenario).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("no active scenario named %q", *scenario)
		}
		if err != nil {
			return fmt.Errorf("find scenario %q: %w", *scenario, err)
		}
		m.Kind, m.ResModel, m.ResID = "scenario", "whatsapp.interactive.scenario", id
	}
	ids, err := outbox.Enqueue(ctx, pool, m)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "queued message %d\n", ids[0])
	if *wait == 0 {
		return nil
	}
	return waitForStatus(ctx, pool, ids[0], *wait, stdout)
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

// waitForStatus polls the row until Meta answered (or it failed): the row is the
// only place the answer is written, whichever replica sends it.
func waitForStatus(ctx context.Context, pool *pgxpool.Pool, id int, wait time.Duration, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		var status, wamid, errMsg string
		err := pool.QueryRow(ctx, `SELECT status, COALESCE(wa_message_id, ''), COALESCE(error_message, '') FROM whatsapp_message WHERE id = $1`, id).
			Scan(&status, &wamid, &errMsg)
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("read message %d: %w", id, err)
		}
		switch status {
		case outbox.StatusSent, outbox.StatusDelivered, outbox.StatusRead:
			fmt.Fprintf(stdout, "%s (%s)\n", status, wamid)
			return nil
		case outbox.StatusFailed:
			return fmt.Errorf("message %d failed: %s", id, errMsg)
		}
		select {
		case <-ctx.Done():
			hint := ""
			if errMsg != "" {
				hint = " (last error: " + errMsg + ")"
			}
			return fmt.Errorf("message %d still %s after %s%s: is `whatsapp-sidecar run` running on this database?", id, status, wait, hint)
		case <-tick.C:
		}
	}
}

// storeAttachment stores a file as an Odoo attachment in the database (db_datas),
// as Odoo does with ir_attachment.location = db.
func storeAttachment(ctx context.Context, pool *pgxpool.Pool, path string) (int, string, string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, "", "", fmt.Errorf("read document: %w", err)
	}
	name := filepath.Base(path)
	mimeType := mime.TypeByExtension(filepath.Ext(name))
	if i := strings.IndexByte(mimeType, ';'); i >= 0 {
		mimeType = mimeType[:i]
	}
	if mimeType == "" {
		mimeType = "application/octet-stream"
	}
	if _, _, ok := whatsapp.MediaLimit(mimeType); !ok {
		return 0, "", "", fmt.Errorf("document %s: WhatsApp does not accept %s files (pdf, txt, doc(x), xls(x), ppt(x))", name, mimeType)
	}
	sum := sha1.Sum(data)
	var id int
	err = pool.QueryRow(ctx, `
		INSERT INTO ir_attachment (name, type, db_datas, mimetype, file_size, checksum, public,
		    create_uid, create_date, write_uid, write_date)
		VALUES ($1, 'binary', $2, $3, $4, $5, false, 1, now() AT TIME ZONE 'utc', 1, now() AT TIME ZONE 'utc')
		RETURNING id`, name, data, mimeType, len(data), hex.EncodeToString(sum[:])).Scan(&id)
	if err != nil {
		return 0, "", "", fmt.Errorf("store document as an attachment: %w", err)
	}
	return id, name, mimeType, nil
}
