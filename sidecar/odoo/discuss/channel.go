package discuss

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"time"

	"github.com/jackc/pgx/v5"
)

// NewChannel is a Discuss channel to create.
type NewChannel struct {
	Name        string
	Description string
	// Members are the partners (of internal users) whose Discuss lists the channel.
	Members []int
}

// Channel is a Discuss channel as a post needs it.
type ChannelInfo struct {
	ID      int
	Name    string
	Members []Member
}

// Member is one mail_channel_member row.
type Member struct {
	ID        int
	PartnerID int
}

// PartnerIDs are the members' partners.
func (c ChannelInfo) PartnerIDs() []int {
	ids := make([]int, len(c.Members))
	for i, m := range c.Members {
		ids[i] = m.PartnerID
	}
	return ids
}

// CreateChannel writes a private channel (channel_type 'group': a numeric unread
// badge and a place among the operators' direct conversations, sorted by the last
// message) as mail.channel.create writes it: the channel with a random uuid, then
// one pinned, open member per partner. Like Odoo, it sends no bus notification:
// the posts of this transaction tell the members' web clients (bus remembers they
// joined).
func CreateChannel(ctx context.Context, tx pgx.Tx, bus *Bus, c NewChannel, at time.Time) (ChannelInfo, error) {
	uuid, err := channelUUID()
	if err != nil {
		return ChannelInfo{}, err
	}
	info := ChannelInfo{Name: c.Name}
	err = tx.QueryRow(ctx, `
		INSERT INTO mail_channel (active, channel_type, name, description, uuid, create_uid, create_date, write_uid, write_date)
		VALUES (true, 'group', $1, NULLIF($2, ''), $3, 1, $4, 1, $4)
		RETURNING id`, c.Name, c.Description, uuid, at.UTC()).Scan(&info.ID)
	if err != nil {
		return ChannelInfo{}, fmt.Errorf("create Discuss channel %q: %w", c.Name, err)
	}
	rows, err := tx.Query(ctx, `
		INSERT INTO mail_channel_member (channel_id, partner_id, fold_state, is_pinned, last_interest_dt,
		    create_uid, create_date, write_uid, write_date)
		SELECT $1, p, 'open', true, $3, 1, $4, 1, $4 FROM unnest($2::int[]) AS p
		RETURNING id, partner_id`, info.ID, dedupe(c.Members), seconds(at), at.UTC())
	if err != nil {
		return ChannelInfo{}, fmt.Errorf("add the members of channel %d: %w", info.ID, err)
	}
	if info.Members, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Member]); err != nil {
		return ChannelInfo{}, fmt.Errorf("add the members of channel %d: %w", info.ID, err)
	}
	bus.Joined(info.ID, info.PartnerIDs()...)
	return info, nil
}

// AddMembers adds partners to a channel (pinned, open, as CreateChannel adds them)
// and returns the channel with them; partners already members are left as they are.
// The posts of this transaction tell the new members' web clients (bus remembers
// they joined).
func AddMembers(ctx context.Context, tx pgx.Tx, bus *Bus, c ChannelInfo, partners []int, at time.Time) (ChannelInfo, error) {
	have := map[int]bool{}
	for _, m := range c.Members {
		have[m.PartnerID] = true
	}
	var add []int
	for _, p := range dedupe(partners) {
		if !have[p] {
			add = append(add, p)
		}
	}
	if len(add) == 0 {
		return c, nil
	}
	rows, err := tx.Query(ctx, `
		INSERT INTO mail_channel_member (channel_id, partner_id, fold_state, is_pinned, last_interest_dt,
		    create_uid, create_date, write_uid, write_date)
		SELECT $1, p, 'open', true, $3, 1, $4, 1, $4 FROM unnest($2::int[]) AS p
		RETURNING id, partner_id`, c.ID, add, seconds(at), at.UTC())
	if err != nil {
		return c, fmt.Errorf("add members to channel %d: %w", c.ID, err)
	}
	added, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Member])
	if err != nil {
		return c, fmt.Errorf("add members to channel %d: %w", c.ID, err)
	}
	c.Members = append(c.Members, added...)
	bus.Joined(c.ID, add...)
	return c, nil
}

// GetChannel reads a channel and its partner members; found is false when it was
// deleted.
func GetChannel(ctx context.Context, q DBTX, id int) (c ChannelInfo, found bool, err error) {
	rows, err := q.Query(ctx, `
		SELECT c.id, c.name, m.id, m.partner_id FROM mail_channel c
		LEFT JOIN mail_channel_member m ON m.channel_id = c.id AND m.partner_id IS NOT NULL
		WHERE c.id = $1 ORDER BY m.id`, id)
	if err != nil {
		return ChannelInfo{}, false, fmt.Errorf("read channel %d: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var mid, pid *int
		if err := rows.Scan(&c.ID, &c.Name, &mid, &pid); err != nil {
			return ChannelInfo{}, false, fmt.Errorf("read channel %d: %w", id, err)
		}
		found = true
		if mid != nil && pid != nil {
			c.Members = append(c.Members, Member{ID: *mid, PartnerID: *pid})
		}
	}
	if err := rows.Err(); err != nil {
		return ChannelInfo{}, false, fmt.Errorf("read channel %d: %w", id, err)
	}
	return c, found, nil
}

// uuidChars are those of mail.channel._generate_random_token: no look-alikes.
const uuidChars = "abcdefghijkmnopqrstuvwxyzABCDEFGHIJKLMNPQRSTUVWXYZ23456789"

func channelUUID() (string, error) {
	b := make([]byte, 10)
	for i := range b {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(uuidChars))))
		if err != nil {
			return "", fmt.Errorf("channel uuid: %w", err)
		}
		b[i] = uuidChars[n.Int64()]
	}
	return string(b), nil
}

func dedupe(ids []int) []int {
	seen := map[int]bool{}
	var out []int
	for _, id := range ids {
		if id != 0 && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
