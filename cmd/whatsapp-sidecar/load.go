package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/loadgen"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgcluster"
)

// runLoad is the load tool: a real sidecar process between a real Odoo database and
// the emulator, in a closed loop, timed.
func runLoad(ctx context.Context, args []string, _ envconfig.Lookuper, stdout, stderr io.Writer) error {
	fs := newFlags("load", stderr)
	cfg := loadgen.Config{}
	serverURL := fs.String("server", "", "admin URL of the PostgreSQL server (default: 127.0.0.1:5432, else a throwaway cluster)")
	fs.StringVar(&cfg.DumpDir, "odoo-dump", "testdata/odoo16", "directory holding schema.sql and demo_data.sql.gz")
	fs.StringVar(&cfg.Database, "database", "whatsapp_sidecar_load", "name of the database the run creates (dropped first if it exists)")
	fs.StringVar(&cfg.Binary, "sidecar-bin", "", "the whatsapp-sidecar executable to measure (default: this one)")
	fs.IntVar(&cfg.Orders, "orders", 5000, "orders (and queued rows) per throughput phase")
	fs.IntVar(&cfg.Numbers, "numbers", 5, "business numbers in the across-numbers phase")
	fs.DurationVar(&cfg.Latency, "latency", 0, "emulated Meta latency")
	fs.Float64Var(&cfg.Rate, "rate", 200, "events per second in the latency phase")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "length of the latency phase")
	fs.IntVar(&cfg.Sync, "sync", 300, "orders sent the seed module's way, for comparison (0: skip)")
	fs.BoolVar(&cfg.OpenLoop, "open-loop", false, "no status webhooks and no customers' answers: sends only")
	fs.DurationVar(&cfg.StatusDelay, "status-delay", time.Second, "time between acceptance, sent, delivered and read")
	fs.Float64Var(&cfg.ReplyShare, "reply-share", 0.1, "share of customers who answer (half tap Valider, half write)")
	fs.DurationVar(&cfg.ReplyAfter, "reply-after", 5*time.Second, "when a customer answers, after the message reached Meta")
	fs.IntVar(&cfg.History, "history", 20000, "older messages seeded before the run")
	fs.DurationVar(&cfg.ReferenceFor, "reference-for", 3*time.Second, "how long the reference INSERT commit rate is measured")
	fs.DurationVar(&cfg.StatsSettle, "stats-settle", 11*time.Second, "wait for PostgreSQL's transaction counts before reading them")
	var env stringList
	fs.Var(&env, "sidecar-env", "KEY=value added to the sidecar's environment (repeatable)")
	asJSON := fs.Bool("json", false, "print the figures as one JSON object on stdout (the words go to stderr)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg.SidecarEnv = env
	cfg.Out, cfg.Progress = stdout, stderr
	if *asJSON {
		cfg.Out = stderr
	}
	if cfg.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		cfg.Binary = exe
	}
	server, cluster, err := pgcluster.Find(ctx, *serverURL, false)
	if err != nil {
		return err
	}
	if cluster != nil {
		defer cluster.Stop()
	}
	cfg.AdminURL = server
	fmt.Fprintf(cfg.Out, "machine: %d CPUs, %s; PostgreSQL, the sidecar, the emulator and this tool share it\n", runtime.NumCPU(), runtime.GOARCH)
	rep, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return err
	}
	rep.CPUs = runtime.NumCPU()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return nil
}
