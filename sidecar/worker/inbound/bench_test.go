package inbound_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
)

// BenchmarkProcess measures deliveries processed per second from the inbox (the
// intake stored them already):
//
//   - statuses: what production mostly receives, three reports (sent, delivered,
//     read) for each message sent, one delivery each;
//
//   - mixed: half status reports, half text messages from 100 customers (new rows,
//     conversations, partner lookups).
//
//     go test -run '^$' -bench BenchmarkProcess -benchtime 6000x ./sidecar/worker/inbound
func BenchmarkProcess(b *testing.B) {
	for _, mix := range []string{"statuses", "mixed"} {
		b.Run(mix, func(b *testing.B) {
			bd := setup(b)
			ctx := context.Background()
			bodies := make([][]byte, b.N)
			now := time.Now()
			for i := range b.N {
				switch {
				case mix == "statuses":
					wamid := "wamid.bench-out-" + strconv.Itoa(i/3)
					if i%3 == 0 {
						bd.db.Exec(b, `INSERT INTO whatsapp_message (direction, wa_message_id, phone, status) VALUES ('out', $1, '+221771234567', 'sending')`, wamid)
					}
					status := []string{"sent", "delivered", "read"}[i%3]
					bodies[i] = payload(whatsapp.WebhookValue{Statuses: []whatsapp.Status{{ID: wamid, Status: status,
						Timestamp: unix(now.Add(time.Duration(i%3) * time.Second)), RecipientID: awaWaID}}})
				case i%2 == 0:
					wamid := "wamid.bench-out-" + strconv.Itoa(i)
					bd.db.Exec(b, `INSERT INTO whatsapp_message (direction, wa_message_id, phone, status) VALUES ('out', $1, '+221771234567', 'sent')`, wamid)
					bodies[i] = payload(whatsapp.WebhookValue{Statuses: []whatsapp.Status{{ID: wamid, Status: "delivered",
						Timestamp: unix(now), RecipientID: awaWaID}}})
				default:
					waID := "2217712" + strconv.Itoa(10000+i%100)
					bodies[i] = textFrom(waID, "Client", "wamid.bench-in-"+strconv.Itoa(i), "Bonjour")
				}
			}
			if _, err := bd.pool.Exec(ctx, `INSERT INTO whatsapp_sidecar.inbox (body) SELECT unnest($1::bytea[])`, bodies); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			start := time.Now()
			n, err := bd.processor.Drain(ctx)
			elapsed := time.Since(start)
			b.StopTimer()
			if err != nil || n != b.N {
				b.Fatalf("processed %d of %d: %v", n, b.N, err)
			}
			var pending int
			bd.db.QueryRow(b, []any{&pending}, `SELECT count(*) FROM whatsapp_sidecar.inbox WHERE processed_at IS NULL`)
			if pending != 0 {
				b.Fatalf("%d deliveries not processed", pending)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "deliveries/s")
		})
	}
}
