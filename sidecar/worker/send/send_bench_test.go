package send_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
)

// BenchmarkSendQueued sends b.N queued rows through a running sender to the
// emulator, with Meta's latency emulated at 0 and 200 ms: msg/s is what one sending
// number achieves (its rate limit here is 1,000 msg/s, Meta's maximum).
func BenchmarkSendQueued(b *testing.B) {
	for _, latency := range []time.Duration{0, 200 * time.Millisecond} {
		b.Run(fmt.Sprintf("latency=%s", latency), func(b *testing.B) {
			ctx := context.Background()
			bu := setupB(b)
			bu.emu.UpdateKnobs(func(k *emulator.Knobs) { k.Latency = latency; k.StopAt = "sent" })
			bu.db.Exec(b, `UPDATE whatsapp_config SET rate_limit_per_second = 1000`)
			if err := bu.accounts.Load(ctx, bu.pool); err != nil {
				b.Fatal(err)
			}
			bu.db.Exec(b, `
				INSERT INTO whatsapp_message (phone, content)
				SELECT '+22177' || lpad(g::text, 7, '0'), 'Votre commande S' || g || ' est prête' FROM generate_series(1, $1) g`, b.N)
			b.ResetTimer()
			start := time.Now()
			run, stop := context.WithCancel(ctx)
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { defer wg.Done(); bu.sender.Run(run, ctx) }()
			for sent := 0; sent < b.N; {
				time.Sleep(20 * time.Millisecond)
				bu.db.QueryRow(b, []any{&sent}, `SELECT count(*) FROM whatsapp_message WHERE status = 'sent'`)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			stop()
			wg.Wait()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msg/s")
		})
	}
}
