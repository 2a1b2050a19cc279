package sidecar_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/odoosim"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator/emulatortest"
)

var metricName = regexp.MustCompile(`\b((?:whatsapp|process|go)_[a-z0-9_]+)\b`)

// queries returns the PromQL of the Grafana dashboards and the alert rules.
func queries(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	files, _ := filepath.Glob("../dashboards/*.json")
	if len(files) == 0 {
		t.Fatal("no dashboard in dashboards/")
	}
	for _, f := range files {
		var dash struct {
			Panels []struct {
				Title   string
				Targets []struct{ Expr string }
			}
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &dash); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, p := range dash.Panels {
			for i, target := range p.Targets {
				out[fmt.Sprintf("%s: %s #%d", filepath.Base(f), p.Title, i)] = target.Expr
			}
		}
	}
	rules, err := os.ReadFile("../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	alert := ""
	for _, line := range strings.Split(string(rules), "\n") {
		if m := regexp.MustCompile(`- alert: (\w+)`).FindStringSubmatch(line); m != nil {
			alert = m[1]
		}
		if m := regexp.MustCompile(`expr: (.+)$`).FindStringSubmatch(line); m != nil {
			if m[1] == "|" || m[1] == ">" {
				t.Fatalf("alert %s: write expr on one line, this test reads it line by line", alert)
			}
			out["alert "+alert] = m[1]
		}
	}
	return out
}

// Every metric a dashboard panel or an alert rule queries is one the binary
// exports: a renamed metric breaks this test, not a dashboard in production.
// With Prometheus installed (Debian's prometheus package, as CI installs it), the
// rules pass promtool, the exposition passes promtool's lint, and every query runs
// on a real Prometheus scraping a running sidecar.
func TestDashboardsAndAlertsUseExportedMetrics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, emu := withAccount(t)
	d := startDaemon(t, db, emu, nil)
	if _, err := odoosim.NewQuotation(ctx, db.Pool(t), odoosim.PartnerAwa, 1000, 180); err != nil {
		t.Fatal(err)
	}
	pgtest.Eventually(t, "one message sent", func() bool { return emulatortest.Accepted(emu) >= 1 })

	exported := map[string]bool{}
	for _, n := range d.Metrics().Names() {
		exported[n] = true
	}
	for where, expr := range queries(t) {
		for _, m := range metricName.FindAllString(expr, -1) {
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_sum"), "_count")
			if !exported[base] {
				t.Errorf("%s queries %s, which the sidecar does not export", where, m)
			}
		}
	}

	scrape := get(t, "http://"+d.MetricsAddr()+"/metrics")
	if promtool, err := exec.LookPath("promtool"); err == nil {
		if out, err := exec.Command(promtool, "check", "rules", "../deploy/prometheus/alerts.yml").CombinedOutput(); err != nil {
			t.Errorf("promtool check rules: %v\n%s", err, out)
		}
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(scrape)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	} else {
		t.Log("promtool not installed (apt-get install prometheus): rules and exposition not linted")
	}
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		t.Log("prometheus not installed: queries not run on a real Prometheus")
		return
	}
	promURL := startPrometheus(t, prom, d.MetricsAddr())
	for where, expr := range queries(t) {
		expr = strings.ReplaceAll(expr, "$__rate_interval", "1m")
		body := get(t, promURL+"/api/v1/query?query="+url.QueryEscape(expr))
		if !strings.Contains(body, `"status":"success"`) {
			t.Errorf("%s: Prometheus rejects %q: %s", where, expr, body)
		}
	}
	if body := get(t, promURL+"/api/v1/rules"); !strings.Contains(body, "WhatsAppQueueStuck") {
		t.Errorf("Prometheus did not load the alert rules: %s", body)
	}
}

func get(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// startPrometheus runs a real Prometheus scraping target with the repository's
// alert rules, and waits until it has scraped the sidecar once.
func startPrometheus(t *testing.T, bin, target string) string {
	t.Helper()
	dir := t.TempDir()
	rules, _ := filepath.Abs("../deploy/prometheus/alerts.yml")
	cfg := fmt.Sprintf("global: {scrape_interval: 1s}\nrule_files: [%q]\nscrape_configs:\n  - job_name: whatsapp-sidecar\n    static_configs: [{targets: [%q]}]\n", rules, target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	// Port 0, and the address Prometheus logs: a port closed and bound again can
	// be taken in between by any connection's local port.
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	listening := make(chan string, 1)
	go func() { // reads stderr to its end: Prometheus blocks on a full pipe
		defer close(listening)
		for lines, told := bufio.NewScanner(stderr), false; lines.Scan(); {
			if _, addr, ok := strings.Cut(lines.Text(), `msg="Listening on" address=`); ok && !told {
				listening <- strings.Fields(addr)[0]
				told = true
			}
		}
	}()
	addr, ok := <-listening
	if !ok {
		t.Fatal("Prometheus exited without listening")
	}
	base := "http://" + addr
	pgtest.Eventually(t, "Prometheus to scrape the sidecar", func() bool {
		resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(`up{job="whatsapp-sidecar"} == 1`))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), `"value"`)
	})
	return base
}
