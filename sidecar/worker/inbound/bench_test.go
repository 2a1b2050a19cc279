package inbound_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
)

// BenchmarkProcess measures deliveries processed per second from the inbox (the
// intake stored them already): half status updates of sent messages, half text
// messages from 100 customers (new rows, conversations, partner lookups).
//
//	go test -run '^$' -bench BenchmarkProcess -benchtime 4000x ./sidecar/inbound
func BenchmarkProcess(b *testing.B) {
	bd := setup(b)
	ctx := context.Background()
	bodies := make([][]byte, b.N)
	for i := range b.N {
		if i%2 == 0 {
			wamid := "wamid.bench-out-" + strconv.Itoa(i)
			bd.db.Exec(b, `INSERT INTO whatsapp_message (direction, wa_message_id, phone, status) VALUES ('out', $1, '+221771234567', 'sent')`, wamid)
			bodies[i] = payload(whatsapp.WebhookValue{Statuses: []whatsapp.Status{{ID: wamid, Status: "delivered",
				Timestamp: unix(time.Now()), RecipientID: awaWaID}}})
		} else {
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
}
