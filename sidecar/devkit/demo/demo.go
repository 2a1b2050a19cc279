// Package demo is `whatsapp-sidecar demo`: a demo Odoo 16 database (the real schema
// and demo rows of testdata/odoo16) on the local PostgreSQL, or on a throwaway
// cluster when none runs, the sidecar on it in sandbox (the built-in Cloud API
// emulator), a salesperson's day played as Odoo's ORM writes it (orders, invoices,
// payments, a customer's clicks and a STOP), every message printed as it goes and
// shown live on the sandbox's phone page, whose address it prints first.
package demo

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

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/odoosim"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgcluster"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgdump"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/install"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/config"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/logging"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
)

// Options is one demo run; the zero value of a field means its default.
type Options struct {
	// Server is the admin URL of the PostgreSQL server; empty: 127.0.0.1:5432, else
	// a throwaway cluster.
	Server string
	// Database is the demo database's name (recreated); empty: whatsapp_sidecar_demo.
	Database string
	// DumpDir holds schema.sql and demo_data.sql.gz; empty: testdata/odoo16.
	DumpDir     string
	WebhookAddr string // empty: 127.0.0.1:8080
	MetricsAddr string // empty: 127.0.0.1:9464
	// Play plays the salesperson's day; false only runs the sidecar.
	Play bool
	// Env fills the sidecar's configuration beyond the demo's own (LOG_LEVEL, ...).
	Env     envconfig.Lookuper
	Version string
	Stdout  io.Writer
	Stderr  io.Writer
}

// Run builds the database, starts the sidecar in sandbox and plays the day, then
// keeps the sidecar running until ctx ends.
func Run(ctx context.Context, o Options) error {
	o = o.withDefaults()
	out := o.Stdout
	server, cluster, err := pgcluster.Find(ctx, o.Server, false)
	if err != nil {
		return err
	}
	if cluster != nil {
		defer cluster.Stop()
		fmt.Fprintf(out, "No PostgreSQL at 127.0.0.1:5432: started a throwaway cluster at %s\n", server)
	}
	fmt.Fprintf(out, "Creating the demo Odoo 16 database %q (real Odoo 16 schema and demo rows)...\n", o.Database)
	dbURL, err := pgdump.CreateDatabase(ctx, server, o.Database, o.DumpDir)
	if err != nil {
		return err
	}
	cfg, err := config.Load(ctx, envconfig.MultiLookuper(envconfig.MapLookuper(map[string]string{
		"DATABASE_URL": dbURL, "WEBHOOK_ADDR": o.WebhookAddr, "METRICS_ADDR": o.MetricsAddr,
		"LOG_LEVEL": "warn",
	}), o.Env))
	if err != nil {
		return err
	}
	level, _ := config.ParseLevel(cfg.LogLevel)
	logger := logging.New(o.Stderr, level, cfg.LogFormat)

	// The demo's business switches, as a user would set them in WhatsApp > Configuration.
	if err := configureDemo(ctx, dbURL); err != nil {
		return err
	}
	d, err := sidecar.New(sidecar.Options{Config: cfg, Logger: logger, Version: o.Version, Sandbox: true})
	if err != nil {
		return err
	}
	if err := d.Start(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n▶ Open %s in a browser: every customer's phone, live. Tap the buttons (or type STOP) as the customer.\n",
		d.SandboxURL())
	fmt.Fprintf(out, "\nSidecar running on %s (webhook http://%s/whatsapp/webhook, metrics http://%s/metrics)\n",
		o.Database, d.WebhookAddr(), d.MetricsAddr())
	fmt.Fprintf(out, "Sandbox: messages go to the built-in Cloud API emulator at %s, never to a phone\n", d.Emulator().URL())
	fmt.Fprintf(out, "DATABASE_URL=%s\n\n", dbURL)

	printer := &messagePrinter{pool: d.Pool(), out: out}
	printCtx, stopPrinting := context.WithCancel(ctx)
	printed := make(chan struct{})
	go func() { defer close(printed); printer.run(printCtx) }()

	if o.Play {
		if err := playActivity(ctx, d.Pool(), d.Emulator(), out); err != nil && ctx.Err() == nil {
			fmt.Fprintf(out, "demo activity stopped: %v\n", err)
		}
		fmt.Fprintf(out, "\nThe sidecar keeps running: change orders and invoices in this database (or queue a whatsapp_message row) and watch here or on %s. Ctrl-C stops it.\n",
			d.SandboxURL())
	}
	<-ctx.Done()
	stopPrinting()
	<-printed
	return d.Stop(context.WithoutCancel(ctx))
}

func (o Options) withDefaults() Options {
	if o.Database == "" {
		o.Database = "whatsapp_sidecar_demo"
	}
	if o.DumpDir == "" {
		o.DumpDir = "testdata/odoo16"
	}
	if o.WebhookAddr == "" {
		o.WebhookAddr = "127.0.0.1:8080"
	}
	if o.MetricsAddr == "" {
		o.MetricsAddr = "127.0.0.1:9464"
	}
	if o.Env == nil {
		o.Env = envconfig.MapLookuper(nil)
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	return o
}

func configureDemo(ctx context.Context, dbURL string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := install.Migrate(ctx, conn); err != nil {
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
