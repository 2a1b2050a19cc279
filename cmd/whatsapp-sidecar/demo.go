package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sethvargo/go-envconfig"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/odoosim"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgcluster"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgdump"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/config"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/logging"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
)

// runDemo builds a demo Odoo 16 database (the real schema and demo rows of
// testdata/odoo16) on the local PostgreSQL, or on a throwaway cluster when none runs,
// runs the sidecar on it against the built-in emulator (sandbox), plays a few
// minutes of Odoo activity (orders, invoices, payments) and prints every message as
// it is sent.
func runDemo(ctx context.Context, args []string, env envconfig.Lookuper, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	serverURL := fs.String("server", "", "admin URL of the PostgreSQL server (default: 127.0.0.1:5432, else a throwaway cluster)")
	dbName := fs.String("db", "whatsapp_sidecar_demo", "name of the demo database (recreated)")
	dumpDir := fs.String("odoo-dump", "testdata/odoo16", "directory holding schema.sql and demo_data.sql.gz")
	webhookAddr := fs.String("webhook-addr", "127.0.0.1:8080", "public listener (webhook, sandbox page)")
	metricsAddr := fs.String("metrics-addr", "127.0.0.1:9464", "metrics and health listener")
	play := fs.Bool("play", true, "play Odoo activity (orders, invoices, payments); false: only run the sidecar")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	server, cluster, err := pgcluster.Find(ctx, *serverURL, false)
	if err != nil {
		return err
	}
	if cluster != nil {
		defer cluster.Stop()
		fmt.Fprintf(stdout, "No PostgreSQL at 127.0.0.1:5432: started a throwaway cluster at %s\n", server)
	}
	fmt.Fprintf(stdout, "Creating the demo Odoo 16 database %q (real Odoo 16 schema and demo rows)...\n", *dbName)
	dbURL, err := pgdump.CreateDatabase(ctx, server, *dbName, *dumpDir)
	if err != nil {
		return err
	}
	cfg, err := config.Load(ctx, envconfig.MultiLookuper(envconfig.MapLookuper(map[string]string{
		"DATABASE_URL": dbURL, "WEBHOOK_ADDR": *webhookAddr, "METRICS_ADDR": *metricsAddr,
		"LOG_LEVEL": "warn",
	}), env))
	if err != nil {
		return err
	}
	level, _ := config.ParseLevel(cfg.LogLevel)
	logger := logging.New(stderr, level, cfg.LogFormat)

	// The demo's business switches, as a user would set them in WhatsApp > Configuration.
	if err := configureDemo(ctx, dbURL); err != nil {
		return err
	}
	d, err := startDaemon(ctx, cfg, logger, true)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nSidecar running on %s (webhook http://%s/whatsapp/webhook, metrics http://%s/metrics)\n",
		*dbName, d.webhook.Addr(), d.ops.Addr())
	if d.emu != nil {
		fmt.Fprintf(stdout, "Sandbox: no Meta credentials, messages go to the built-in Cloud API emulator at %s\n", d.emu.URL())
	}
	fmt.Fprintf(stdout, "DATABASE_URL=%s\n\n", dbURL)

	printer := &messagePrinter{pool: d.pool, out: stdout}
	printCtx, stopPrinting := context.WithCancel(ctx)
	printed := make(chan struct{})
	go func() { defer close(printed); printer.run(printCtx) }()

	if *play {
		if err := playActivity(ctx, d.pool, d.emu, stdout); err != nil && ctx.Err() == nil {
			fmt.Fprintf(stdout, "demo activity stopped: %v\n", err)
		}
		fmt.Fprintln(stdout, "\nThe sidecar keeps running: change orders and invoices in this database (or queue a whatsapp_message row) and watch. Ctrl-C stops it.")
	}
	<-ctx.Done()
	stopPrinting()
	<-printed
	return d.stop(context.WithoutCancel(ctx))
}

func configureDemo(ctx context.Context, dbURL string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := installSchema(ctx, conn); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, `
		INSERT INTO whatsapp_config (name, phone_number_id, company_id, default_country_code, lang, is_active,
		    auto_send_order_creation, auto_send_unpaid_invoices, unpaid_invoice_days,
		    payment_wave_text, payment_orange_text)
		VALUES ('Démo', '`+"106540352242922"+`', 1, 'SN', 'fr', true, true, true, 7,
		    'https://pay.wave.com/m/demo', 'https://orange-money.example/pay/demo')`)
	if err != nil {
		return fmt.Errorf("configure the demo account: %w", err)
	}
	return nil
}

// playActivity writes what Odoo's ORM writes when a salesperson works: quotations,
// a confirmation, an invoice posted, two payments. Pauses let the messages show in
// order.
func playActivity(ctx context.Context, pool *pgxpool.Pool, emu *emulator.Server, out io.Writer) error {
	step := func(format string, args ...any) {
		fmt.Fprintf(out, "\nOdoo ▸ "+format+"\n", args...)
	}
	pause := func() {
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
	step("new quotation for Awa Ndiaye (+221 77 123 45 67), 4 chairs")
	order, err := odoosim.NewQuotation(ctx, pool, odoosim.PartnerAwa, 180000, 32400)
	if err != nil {
		return err
	}
	if err := odoosim.AddOrderLine(ctx, pool, order, 1, "[FURN_7777] Office Chair", 4, 45000); err != nil {
		return err
	}
	pause()
	step("the salesperson confirms it")
	if err := odoosim.ConfirmOrder(ctx, pool, order); err != nil {
		return err
	}
	pause()
	step("invoice for Awa Ndiaye, posted")
	invoice, err := odoosim.NewInvoice(ctx, pool, odoosim.PartnerAwa, 180000, 32400)
	if err != nil {
		return err
	}
	if _, err := odoosim.PostInvoice(ctx, pool, invoice); err != nil {
		return err
	}
	pause()
	step("a payment of 100 000 F CFA is registered")
	if _, err := odoosim.RegisterPayment(ctx, pool, invoice, 100000); err != nil {
		return err
	}
	pause()
	step("the rest (112 400 F CFA) is paid")
	if _, err := odoosim.RegisterPayment(ctx, pool, invoice, 112400); err != nil {
		return err
	}
	pause()
	step("new quotation for Ibrahima Sow, who has no phone number")
	if _, err := odoosim.NewQuotation(ctx, pool, odoosim.PartnerIbrahima, 150000, 27000); err != nil {
		return err
	}
	pause()
	step("quotation for Moussa Diop (\"77 123 45 68\", a local number)")
	validated, err := odoosim.NewQuotation(ctx, pool, odoosim.PartnerMoussa, 20000, 3600)
	if err != nil {
		return err
	}
	if err := odoosim.AddOrderLine(ctx, pool, validated, 1, "[FURN_8888] Office Lamp", 2, 10000); err != nil {
		return err
	}
	pause()
	if emu != nil {
		tap := func(who, name, button string) error {
			_, err := emu.SendInbound(emulator.Inbound{From: who, Name: name, Type: "button_reply", ID: button})
			return err
		}
		step("on his phone, Moussa taps « Voir détail », then « Valider »")
		if err := tap("221771234568", "Moussa Diop", fmt.Sprintf("btn_view_order_details_%d", validated)); err != nil {
			return err
		}
		pause()
		if err := tap("221771234568", "Moussa Diop", fmt.Sprintf("btn_validate_order_%d", validated)); err != nil {
			return err
		}
		pause()
		var state string
		if err := pool.QueryRow(ctx, `SELECT state FROM sale_order WHERE id = $1`, validated).Scan(&state); err == nil {
			fmt.Fprintf(out, "\nOdoo ▸ order S%05d is now in state %q, confirmed by the customer's click\n", validated, state)
		}
		step("quotation for Fatou Sarr, who answers « STOP »")
		if _, err := odoosim.NewQuotation(ctx, pool, odoosim.PartnerFatou, 50000, 9000); err != nil {
			return err
		}
		pause()
		if _, err := emu.SendInbound(emulator.Inbound{From: "221789012345", Name: "Fatou Sarr", Type: "text", Text: "STOP"}); err != nil {
			return err
		}
		pause()
		step("another quotation for Fatou Sarr: she opted out, nothing is sent")
		if _, err := odoosim.NewQuotation(ctx, pool, odoosim.PartnerFatou, 10000, 1800); err != nil {
			return err
		}
		pause()
	}
	return nil
}

// messagePrinter prints each outbound message once it is sent or failed, and each
// inbound one, in a readable form.
type messagePrinter struct {
	pool    *pgxpool.Pool
	out     io.Writer
	printed map[int]bool
}

func (p *messagePrinter) run(ctx context.Context) {
	p.printed = map[int]bool{}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		p.printNew(ctx)
		select {
		case <-ctx.Done():
			p.printNew(context.WithoutCancel(ctx))
			return
		case <-tick.C:
		}
	}
}

func (p *messagePrinter) printNew(ctx context.Context) {
	rows, err := p.pool.Query(ctx, `
		SELECT id, direction, status, COALESCE(phone, ''), COALESCE(contact_name, ''), COALESCE(kind, ''), COALESCE(message_type, ''),
		       COALESCE(content, ''), COALESCE(buttons, ''), COALESCE(error_message, '')
		FROM whatsapp_message
		WHERE status IN ('sent', 'delivered', 'read', 'failed', 'received')
		ORDER BY id`)
	if err != nil {
		return
	}
	defer rows.Close()
	for rows.Next() {
		var id int
		var direction, status, phone, name, kind, typ, content, buttons, errMsg string
		if rows.Scan(&id, &direction, &status, &phone, &name, &kind, &typ, &content, &buttons, &errMsg) != nil || p.printed[id] {
			continue
		}
		p.printed[id] = true
		who := strings.TrimSpace(name + " " + phone)
		if direction == "in" {
			fmt.Fprintf(p.out, "  ← %s [%s]: %s\n", who, typ, indent(content))
			continue
		}
		if status == "failed" {
			fmt.Fprintf(p.out, "  ✗ %s [%s] not sent: %s\n", who, kind, errMsg)
			continue
		}
		fmt.Fprintf(p.out, "  → %s [%s, %s]\n    %s\n", who, kind, typ, indent(content))
		var bs []struct{ Title string }
		if json.Unmarshal([]byte(buttons), &bs) == nil && len(bs) > 0 {
			var titles []string
			for _, b := range bs {
				titles = append(titles, "["+b.Title+"]")
			}
			fmt.Fprintf(p.out, "    %s\n", strings.Join(titles, " "))
		}
	}
}

func indent(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n    ") }
