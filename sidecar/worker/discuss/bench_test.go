package discuss_test

import (
	"context"
	"testing"
	"time"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/discuss"
)

// BenchmarkMirror measures how fast customers' messages reach Discuss: b.N
// received messages in 50 conversations (channels created on the way), posted by
// one Drain. Read posts/s.
func BenchmarkMirror(b *testing.B) {
	ctx := context.Background()
	db := pgtest.NewDB(b, pgtest.Sidecar)
	pool := db.Pool(b)
	db.Exec(b, `INSERT INTO whatsapp_config (name, phone_number_id, company_id, default_country_code, is_active)
		VALUES ('Boutique', '106540352242922', 1, 'SN', true)`)
	db.Exec(b, `INSERT INTO whatsapp_conversation (name, phone, wa_id, config_id, last_inbound_at)
		SELECT 'Client ' || g, '+22177000' || lpad(g::text, 4, '0'), '22177000' || lpad(g::text, 4, '0'), c.id, now() AT TIME ZONE 'utc'
		FROM generate_series(1, 50) g, whatsapp_config c`)
	db.Exec(b, `INSERT INTO whatsapp_message (direction, config_id, conversation_id, wa_message_id, phone, content, message_type, status, create_date)
		SELECT 'in', c.config_id, c.id, 'wamid.bench' || g, c.phone, 'Bonjour ' || g, 'text', 'received', now() AT TIME ZONE 'utc'
		FROM generate_series(1, $1::int) g JOIN whatsapp_conversation c ON c.id = (SELECT min(id) FROM whatsapp_conversation) + g % 50`, b.N)
	w := &discuss.Worker{Pool: pool, BatchSize: 200}
	defer func() { w.Notifier.Close(ctx) }()
	b.ResetTimer()
	start := time.Now()
	n, err := w.Drain(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "posts/s")
}
