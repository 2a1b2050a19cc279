package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgcluster"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
)

var loadRuns atomic.Int64

// TestLoadClosedLoop runs the load tool small, with this test binary as the
// sidecar: its JSON has every figure, statuses came back for the messages and were
// applied, and customers answered. It asserts no time.
func TestLoadClosedLoop(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("spawns the sidecar twice")
	}
	ctx := context.Background()
	admin, cluster, err := pgcluster.Find(ctx, os.Getenv("TEST_DATABASE_URL"), false)
	if err != nil {
		t.Fatal(err)
	}
	if cluster != nil {
		t.Cleanup(cluster.Stop)
	}
	root, err := pgtest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("whatsapp_sidecar_load_test_%d_%d", os.Getpid(), loadRuns.Add(1))
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Error(err)
		}
	})
	var stdout, stderr bytes.Buffer
	err = runLoad(ctx, []string{"--server", admin, "--database", name, "--odoo-dump", root + "/testdata/odoo16",
		"--sidecar-bin", os.Args[0], "--sidecar-env", "WHATSAPP_SIDECAR_TEST_AS_MAIN=1",
		"--orders", "30", "--numbers", "2", "--latency", "5ms", "--status-delay", "20ms",
		"--rate", "20", "--duration", "500ms", "--sync", "3", "--history", "50",
		"--reply-share", "0.5", "--reply-after", "20ms", "--reference-for", "100ms", "--stats-settle", "1ms",
		"--json"}, nil, &stdout, &stderr)
	if err != nil {
		t.Fatalf("load: %v\n%s", err, stderr.String())
	}
	var rep map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("load --json printed %q: %v", stdout.String(), err)
	}
	for _, key := range []string{"one_number_msg_s", "across_numbers_msg_s", "statuses_applied_per_s", "status_lag_p99_ms",
		"commit_to_request_p50_ms", "commit_to_request_p99_ms", "rss_peak_mb", "rss_steady_mb", "db_commits_per_message",
		"sidecar_cpu_ms_per_1000_messages", "seed_msg_s", "reference_insert_commits_per_s"} {
		if _, ok := rep[key].(float64); !ok {
			t.Errorf("%s missing from the JSON or not a number: %v", key, rep[key])
		}
	}
	// Both phases' 60 messages came back as sent, delivered and read (and the
	// answers' own messages too), all handled before the figures were taken.
	if n, _ := rep["statuses_posted"].(float64); n < 3*60 {
		t.Errorf("%v statuses posted, want at least 180", rep["statuses_posted"])
	}
	if n, _ := rep["status_lag_samples"].(float64); n < 60 {
		t.Errorf("%v read statuses applied, want at least 60", rep["status_lag_samples"])
	}
	if n, _ := rep["customer_replies"].(float64); n == 0 {
		t.Error("no customer answered")
	}
	if t.Failed() {
		t.Logf("stderr:\n%s", stderr.String())
	}
}
