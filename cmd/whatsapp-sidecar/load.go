package main

import (
	"context"
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
// the emulator, timed.
func runLoad(ctx context.Context, args []string, _ envconfig.Lookuper, stdout, stderr io.Writer) error {
	fs := newFlags("load", stderr)
	cfg := loadgen.Config{Out: stdout}
	serverURL := fs.String("server", "", "admin URL of the PostgreSQL server (default: 127.0.0.1:5432, else a throwaway cluster)")
	fs.StringVar(&cfg.DumpDir, "odoo-dump", "testdata/odoo16", "directory holding schema.sql and demo_data.sql.gz")
	fs.IntVar(&cfg.Orders, "orders", 5000, "orders (and queued rows) per throughput phase")
	fs.IntVar(&cfg.Numbers, "numbers", 5, "business numbers in the across-numbers phase")
	fs.DurationVar(&cfg.Latency, "latency", 0, "emulated Meta latency")
	fs.Float64Var(&cfg.Rate, "rate", 200, "events per second in the latency phase")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "length of the latency phase")
	fs.IntVar(&cfg.Sync, "sync", 300, "orders sent the seed module's way, for comparison (0: skip)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cfg.Binary = exe
	server, cluster, err := pgcluster.Find(ctx, *serverURL, false)
	if err != nil {
		return err
	}
	if cluster != nil {
		defer cluster.Stop()
	}
	cfg.AdminURL = server
	fmt.Fprintf(stdout, "machine: %d CPUs, %s; PostgreSQL, the sidecar, the emulator and this tool share it\n", runtime.NumCPU(), runtime.GOARCH)
	_, err = loadgen.Run(ctx, cfg)
	return err
}
