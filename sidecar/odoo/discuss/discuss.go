// Package discuss writes Odoo 16's Discuss rows the way Odoo itself writes them:
// channels (mail_channel, channel_type 'group') and their members
// (mail_channel_member), messages in them (mail_message as mail.channel's
// message_post writes it, with its attachments and a tracking value for a delivery
// status), and the bus notifications the web client listens to (bus_bus rows, then
// NOTIFY imbus on the database named postgres once they are committed), so an open
// Discuss shows a message at once, without a reload. The shapes are those recorded
// on a real Odoo 16 server (testdata/odoo16/discuss_trace.sql). It knows Odoo's
// tables, nothing of WhatsApp.
//
// Every write of this package runs in a transaction the caller marks as the
// sidecar's (MarkWriter), so the capture trigger on mail_message never takes the
// sidecar's own posts for an operator's.
package discuss

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DBTX is a pool, a connection or a transaction.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Writer is the value of whatsapp_sidecar.writer in the sidecar's own Discuss
// transactions: the capture triggers skip what such a transaction writes.
const Writer = "discuss"

// MarkWriter marks tx as the sidecar's, for the rest of the transaction.
func MarkWriter(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SELECT set_config('whatsapp_sidecar.writer', $1, true)`, Writer); err != nil {
		return fmt.Errorf("mark the transaction as the sidecar's: %w", err)
	}
	return nil
}

// Refs are the rows of Odoo's own data a post names, looked up once per database.
type Refs struct {
	DB             string // current_database(): the first element of every bus channel
	CommentSubtype int    // mail.mt_comment ("Discussions")
	SubtypeName    string
	OdooBot        Partner // base.partner_root: the author of notices
	// StatusField is the ir_model_fields row a delivery status' tracking value
	// names (whatsapp.message's status); 0 when the app's fields are not
	// registered: no status is shown then.
	StatusField int
	// DiscussAction is the id of the client action mail.action_discuss: a link
	// /web#action=<id>&active_id=mail.channel_<channel> opens a channel in
	// Discuss (with the external id instead, Odoo 16 opens the inbox).
	DiscussAction int
}

// ChannelURL is the link that opens channel channelID in Discuss.
func (r Refs) ChannelURL(channelID int) string {
	return fmt.Sprintf("/web#action=%d&active_id=mail.channel_%d", r.DiscussAction, channelID)
}

// Partner is a res_partner as a message's author.
type Partner struct {
	ID   int
	Name string
}

var refsCache sync.Map // database name -> Refs

// LoadRefs looks up the Refs of q's database.
func LoadRefs(ctx context.Context, q DBTX) (Refs, error) {
	var db string
	if err := q.QueryRow(ctx, `SELECT current_database()`).Scan(&db); err != nil {
		return Refs{}, fmt.Errorf("read the database name: %w", err)
	}
	if v, ok := refsCache.Load(db); ok {
		return v.(Refs), nil
	}
	r := Refs{DB: db}
	var status, action *int
	err := q.QueryRow(ctx, `
		SELECT s.id, COALESCE(s.name->>'en_US', 'Discussions'), p.id, COALESCE(p.name, 'OdooBot'),
		    (SELECT id FROM ir_model_fields WHERE model = 'whatsapp.message' AND name = 'status'),
		    (SELECT res_id FROM ir_model_data WHERE module = 'mail' AND name = 'action_discuss')
		FROM ir_model_data ds JOIN mail_message_subtype s ON s.id = ds.res_id,
		     ir_model_data dp JOIN res_partner p ON p.id = dp.res_id
		WHERE ds.module = 'mail' AND ds.name = 'mt_comment' AND dp.module = 'base' AND dp.name = 'partner_root'`).
		Scan(&r.CommentSubtype, &r.SubtypeName, &r.OdooBot.ID, &r.OdooBot.Name, &status, &action)
	if errors.Is(err, pgx.ErrNoRows) {
		return Refs{}, errors.New("look up mail.mt_comment and base.partner_root: not found (is Odoo's mail module installed?)")
	}
	if err != nil {
		return Refs{}, fmt.Errorf("look up mail.mt_comment and base.partner_root: %w", err)
	}
	if action != nil {
		r.DiscussAction = *action
	}
	if status != nil {
		r.StatusField = *status
		refsCache.Store(db, r) // complete: cached; without the field, looked up again next time
	}
	return r, nil
}

// odooTime is how Odoo writes a Datetime field (UTC, seconds) and how its bus
// payloads carry one.
func odooTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

// seconds truncates t as Odoo's Datetime fields store it.
func seconds(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// jsonText is v as Odoo's bus writes JSON (json.dumps, compact): HTML is not
// escaped.
func jsonText(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only maps, slices, strings and numbers are encoded here.
		panic(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
