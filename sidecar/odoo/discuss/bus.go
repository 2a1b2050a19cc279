package discuss

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Bus collects the bus notifications of one transaction, as bus.bus._sendmany
// writes them: one bus_bus row each (channel and message as JSON text). Write them
// in the transaction, and Notify the channels once it has committed: Odoo's
// websocket reads bus_bus when NOTIFY imbus names a channel it serves, and a NOTIFY
// sent before the commit would find nothing to read.
type Bus struct {
	db       string
	rows     [][2]string // channel, message
	channels []any
	seen     map[string]bool
	// joined are the members of each channel whose web clients do not listen to
	// it yet (created, or joined, in this transaction): its posts reach them
	// through their partner channel.
	joined map[int][]int
}

// NewBus starts an empty set of notifications for database db.
func NewBus(db string) *Bus { return &Bus{db: db, seen: map[string]bool{}, joined: map[int][]int{}} }

// Joined records that partners joined channel channelID in this transaction.
func (b *Bus) Joined(channelID int, partners ...int) {
	b.joined[channelID] = dedupe(append(b.joined[channelID], partners...))
}

// Channel is a bus channel: a record ("mail.channel", 5) or a partner.
type Channel struct {
	Model string
	ID    int
}

// ChannelOf is the bus channel of a Discuss channel.
func ChannelOf(channelID int) Channel { return Channel{"mail.channel", channelID} }

// PartnerChannel is the bus channel a partner's web clients always listen to.
func PartnerChannel(partnerID int) Channel { return Channel{"res.partner", partnerID} }

// Send adds one notification of type typ to target.
func (b *Bus) Send(target Channel, typ string, payload any) {
	ch := []any{b.db, target.Model, target.ID}
	key := jsonText(ch)
	b.rows = append(b.rows, [2]string{key, jsonText(envelope{Type: typ, Payload: payload})})
	if !b.seen[key] {
		b.seen[key] = true
		b.channels = append(b.channels, ch)
	}
}

// envelope is a bus message as Odoo writes it: type first.
type envelope struct {
	Type    string `json:"type"`
	Payload any    `json:"payload"`
}

// Len is how many notifications are collected.
func (b *Bus) Len() int { return len(b.rows) }

// Write inserts the notifications into bus_bus, in tx.
func (b *Bus) Write(ctx context.Context, tx pgx.Tx, at time.Time) error {
	if len(b.rows) == 0 {
		return nil
	}
	channels, messages := make([]string, len(b.rows)), make([]string, len(b.rows))
	for i, r := range b.rows {
		channels[i], messages[i] = r[0], r[1]
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO bus_bus (channel, message, create_uid, create_date, write_uid, write_date)
		SELECT c, m, 1, $3, 1, $3 FROM unnest($1::text[], $2::text[]) AS n(c, m)`, channels, messages, at.UTC())
	if err != nil {
		return fmt.Errorf("write %d bus notifications: %w", len(b.rows), err)
	}
	return nil
}

// Payloads are the NOTIFY imbus payloads for the channels: a JSON list of
// channels, split as Odoo splits it to stay under PostgreSQL's 8000-byte limit.
func (b *Bus) Payloads() []string { return payloads(b.channels) }

func payloads(channels []any) []string {
	if len(channels) == 0 {
		return nil
	}
	p := jsonText(channels)
	if len(channels) == 1 || len(p) < 8000 {
		return []string{p}
	}
	half := (len(channels) + 1) / 2
	return append(payloads(channels[:half]), payloads(channels[half:])...)
}

// Notifier sends NOTIFY imbus where Odoo listens: on the database named postgres
// of the same server (odoo.sql_db.db_connect('postgres')), not on Odoo's own. It
// keeps one connection, opened on first use and again after an error.
type Notifier struct {
	// Connect opens a connection to the postgres database of Odoo's server.
	Connect func(ctx context.Context) (*pgx.Conn, error)

	mu   sync.Mutex
	conn *pgx.Conn
}

// Notify wakes the web clients listening to the channels of committed
// notifications. A failure loses only the live update: the rows are in bus_bus,
// and the next notification of the same channel, or a reload, shows them.
func (n *Notifier) Notify(ctx context.Context, payloads []string) error {
	if len(payloads) == 0 {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for attempt := 0; ; attempt++ {
		if n.conn == nil {
			conn, err := n.Connect(ctx)
			if err != nil {
				return fmt.Errorf("connect to the postgres database for NOTIFY imbus: %w", err)
			}
			n.conn = conn
		}
		err := n.send(ctx, payloads)
		if err == nil {
			return nil
		}
		_ = n.conn.Close(context.WithoutCancel(ctx))
		n.conn = nil
		if attempt > 0 || ctx.Err() != nil {
			return fmt.Errorf("NOTIFY imbus: %w", err)
		}
	}
}

func (n *Notifier) send(ctx context.Context, payloads []string) error {
	batch := &pgx.Batch{}
	for _, p := range payloads {
		batch.Queue(`SELECT pg_notify('imbus', $1)`, p)
	}
	return n.conn.SendBatch(ctx, batch).Close()
}

// Close closes the connection.
func (n *Notifier) Close(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn == nil {
		return nil
	}
	err := n.conn.Close(ctx)
	n.conn = nil
	return err
}
