package webhook_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/config"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/webhook"
)

// BenchmarkIntake measures signed deliveries accepted durably (committed in the
// inbox before the 200) per second over loopback HTTP, with 64 concurrent
// senders as Meta's webhook fleet does, and the p99 latency of one delivery.
// Goal: >= 5,000/s, p99 <= 25 ms.
//
//	go test -run '^$' -bench BenchmarkIntake -benchtime 20000x ./sidecar/webhook
func BenchmarkIntake(b *testing.B) {
	db := pgtest.NewDB(b, pgtest.Sidecar)
	body := fixture(b, "status_delivered.json")
	h := &webhook.Handler{
		Inbox:   &webhook.PoolInbox{Pool: db.Pool(b)},
		Secrets: webhook.AccountSecrets{Env: config.WhatsApp{AppSecret: "bench-secret"}},
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	transport := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}
	signature := whatsapp.Sign([]byte("bench-secret"), body)

	var mu sync.Mutex
	latencies := make([]time.Duration, 0, b.N)
	b.SetBytes(int64(len(body)))
	b.SetParallelism(max(1, (64+runtime.GOMAXPROCS(0)-1)/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+webhook.Path, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(whatsapp.SignatureHeader, signature)
			t0 := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			local = append(local, time.Since(t0))
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
		mu.Lock()
		latencies = append(latencies, local...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	var stored int
	db.QueryRow(b, []any{&stored}, `SELECT count(*) FROM whatsapp_sidecar.inbox`)
	if stored < len(latencies) {
		b.Fatalf("%d deliveries answered 200, %d stored", len(latencies), stored)
	}
	slices.Sort(latencies)
	if len(latencies) > 0 {
		b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "deliveries/s")
		b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99_ms")
		b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50_ms")
	}
}
