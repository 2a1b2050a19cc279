package emulator_test

import (
	"context"
	"testing"
	"time"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
)

// BenchmarkSend measures client + emulator on loopback: messages per second
// and allocations per send (both sides, they share the process). With 200 ms
// emulated latency the throughput comes from concurrency: 256 goroutines per
// GOMAXPROCS. Run: go test -run=^$ -bench=BenchmarkSend -benchtime=10000x ./sidecar/emulator/
func BenchmarkSend(b *testing.B) {
	for _, bc := range []struct {
		name        string
		latency     time.Duration
		parallelism int
	}{
		{"latency=0ms", 0, 16},
		{"latency=200ms", 200 * time.Millisecond, 512},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := emulator.New(emulator.Config{AccessToken: testToken, MaxRecorded: 1000, Knobs: emulator.Knobs{Latency: bc.latency}})
			if err := srv.Start(context.Background(), "127.0.0.1:0"); err != nil {
				b.Fatal(err)
			}
			defer srv.Close(context.Background())
			hc := whatsapp.NewHTTPClient()
			defer hc.CloseIdleConnections()
			client, err := whatsapp.NewClient(whatsapp.Options{BaseURL: srv.BaseURL(), AccessToken: testToken,
				HTTPClient: hc, RatePerSecond: 1e6, Burst: 1e6})
			if err != nil {
				b.Fatal(err)
			}
			msg := whatsapp.ButtonsMessage("+221771234567", "Votre commande S00042 de 25 000 F CFA est enregistrée.",
				whatsapp.ButtonReply{ID: "btn_validate_order_42", Title: "Valider"},
				whatsapp.ButtonReply{ID: "btn_cancel_order_42", Title: "Annuler"},
				whatsapp.ButtonReply{ID: "btn_view_order_details_42", Title: "Voir détail"})
			msg.BizOpaqueCallbackData = "42"
			b.SetParallelism(bc.parallelism)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := client.Send(context.Background(), phoneID, msg); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msg/s")
		})
	}
}
