package discuss

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	odiscuss "github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/discuss"
)

// conversation is a whatsapp_conversation as the channel needs it.
type conversation struct {
	ID            int
	Name          string
	Phone         string
	WaID          string
	ConfigID      int
	ContactID     int
	ContactName   string
	ChannelID     int
	State         string // open, closed
	AssignedUser  int
	LastInboundAt *time.Time
	OptOut        bool
	// Told: the channel was told the window of last_inbound_at has closed.
	Told bool
}

const conversationColumns = `c.id, c.name, COALESCE(c.phone, ''), COALESCE(c.wa_id, ''), COALESCE(c.config_id, 0),
    COALESCE(c.contact_id, 0), COALESCE(p.name, c.contact_name, ''), COALESCE(c.discuss_channel_id, 0),
    COALESCE(c.state, 'open'), COALESCE(c.assigned_user_id, 0), c.last_inbound_at,
    COALESCE(c.opt_out, false) OR COALESCE(p.x_whatsapp_opt_out, false),
    c.discuss_window_notice_for IS NOT DISTINCT FROM COALESCE(c.last_inbound_at, '-infinity')`

func scanConversation(row pgx.Row) (conversation, error) {
	var c conversation
	err := row.Scan(&c.ID, &c.Name, &c.Phone, &c.WaID, &c.ConfigID, &c.ContactID, &c.ContactName, &c.ChannelID,
		&c.State, &c.AssignedUser, &c.LastInboundAt, &c.OptOut, &c.Told)
	return c, err
}

// getConversation reads conversation id; found is false when it does not exist.
func getConversation(ctx context.Context, q odiscuss.DBTX, id int) (conversation, bool, error) {
	c, err := scanConversation(q.QueryRow(ctx, `SELECT `+conversationColumns+`
		FROM whatsapp_conversation c LEFT JOIN res_partner p ON p.id = c.contact_id WHERE c.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return conversation{}, false, nil
	}
	if err != nil {
		return conversation{}, false, fmt.Errorf("read conversation %d: %w", id, err)
	}
	return c, true, nil
}

// conversationOfChannel reads the conversation whose channel is channelID.
func conversationOfChannel(ctx context.Context, q odiscuss.DBTX, channelID int) (conversation, bool, error) {
	c, err := scanConversation(q.QueryRow(ctx, `SELECT `+conversationColumns+`
		FROM whatsapp_conversation c LEFT JOIN res_partner p ON p.id = c.contact_id WHERE c.discuss_channel_id = $1`, channelID))
	if errors.Is(err, pgx.ErrNoRows) {
		return conversation{}, false, nil
	}
	if err != nil {
		return conversation{}, false, fmt.Errorf("read the conversation of channel %d: %w", channelID, err)
	}
	return c, true, nil
}

// upsertOutboundConversation is the conversation a message we sent starts (a
// notification to a customer who never wrote), keyed as the webhook keys them:
// (account, wa_id).
const upsertOutboundConversation = `
INSERT INTO whatsapp_conversation (name, phone, wa_id, config_id, contact_id, contact_name, last_message_at,
    create_uid, create_date, write_uid, write_date)
VALUES ($1, $2, $3, NULLIF($4, 0), NULLIF($5, 0), NULLIF($6, ''), $7, 1, now() AT TIME ZONE 'utc', 1, now() AT TIME ZONE 'utc')
ON CONFLICT ((COALESCE(config_id, 0)), wa_id) WHERE wa_id IS NOT NULL DO UPDATE SET
    last_message_at = GREATEST(whatsapp_conversation.last_message_at, EXCLUDED.last_message_at),
    contact_id = COALESCE(whatsapp_conversation.contact_id, EXCLUDED.contact_id)
RETURNING id`

// setChannel links a conversation to its new channel.
func setChannel(ctx context.Context, tx pgx.Tx, convID, channelID int) error {
	if _, err := tx.Exec(ctx, `UPDATE whatsapp_conversation SET discuss_channel_id = $2 WHERE id = $1`, convID, channelID); err != nil {
		return fmt.Errorf("link conversation %d to channel %d: %w", convID, channelID, err)
	}
	return nil
}

// setContact links a conversation to the partner created for its number.
func setContact(ctx context.Context, tx pgx.Tx, convID, partnerID int) error {
	if _, err := tx.Exec(ctx, `UPDATE whatsapp_conversation SET contact_id = $2 WHERE id = $1 AND contact_id IS NULL`, convID, partnerID); err != nil {
		return fmt.Errorf("link conversation %d to partner %d: %w", convID, partnerID, err)
	}
	return nil
}

// setState closes, reopens or assigns a conversation (the sidecar's own write:
// the capture trigger skips it; the caller posts the notice).
func setState(ctx context.Context, tx pgx.Tx, convID int, state string, assigned *int, userID int) error {
	_, err := tx.Exec(ctx, `UPDATE whatsapp_conversation SET state = $2,
		    assigned_user_id = CASE WHEN $3::boolean THEN NULLIF($4, 0) ELSE assigned_user_id END,
		    write_uid = NULLIF($5, 0), write_date = now() AT TIME ZONE 'utc'
		WHERE id = $1`, convID, state, assigned != nil, deref(assigned), userID)
	if err != nil {
		return fmt.Errorf("update conversation %d: %w", convID, err)
	}
	return nil
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// setTold records that the channel was told its window has closed.
func setTold(ctx context.Context, tx pgx.Tx, convID int) error {
	if _, err := tx.Exec(ctx, `UPDATE whatsapp_conversation
		SET discuss_window_notice_for = COALESCE(last_inbound_at, '-infinity') WHERE id = $1`, convID); err != nil {
		return fmt.Errorf("record the window notice of conversation %d: %w", convID, err)
	}
	return nil
}

// closedWindows lists the conversations with a channel whose 24-hour window has
// closed since the channel was last told (never wrote: -infinity).
const closedWindows = `
SELECT id FROM whatsapp_conversation
WHERE discuss_channel_id IS NOT NULL
  AND COALESCE(last_inbound_at, '-infinity') <= (now() AT TIME ZONE 'utc') - interval '24 hours'
  AND discuss_window_notice_for IS DISTINCT FROM COALESCE(last_inbound_at, '-infinity')
ORDER BY id LIMIT $1`

// nextWindowClose is how long until the next open 24-hour window of a conversation
// with a channel closes; ok is false when none is open.
func nextWindowClose(ctx context.Context, q odiscuss.DBTX) (d time.Duration, ok bool, err error) {
	var secs *float64
	err = q.QueryRow(ctx, `
		SELECT EXTRACT(EPOCH FROM min(last_inbound_at) + interval '24 hours' - (now() AT TIME ZONE 'utc'))::float8
		FROM whatsapp_conversation
		WHERE discuss_channel_id IS NOT NULL AND last_inbound_at > (now() AT TIME ZONE 'utc') - interval '24 hours'`).Scan(&secs)
	if err != nil {
		return 0, false, fmt.Errorf("find the next 24-hour window to close: %w", err)
	}
	if secs == nil {
		return 0, false, nil
	}
	return time.Duration(*secs * float64(time.Second)), true, nil
}

// lookups remembers, within one transaction, what every row of its batch reads
// alike: a configuration's operators and business partner (five statements a post
// otherwise, for rows of the same configuration).
type lookups struct {
	operatorsOf map[int][]int
	businessOf  map[int]odiscuss.Partner
}

func (l *lookups) operators(ctx context.Context, q odiscuss.DBTX, configID int) ([]int, error) {
	if ids, ok := l.operatorsOf[configID]; ok {
		return ids, nil
	}
	ids, err := operatorPartners(ctx, q, configID)
	if err != nil {
		return nil, err
	}
	if l.operatorsOf == nil {
		l.operatorsOf = map[int][]int{}
	}
	l.operatorsOf[configID] = ids
	return ids, nil
}

func (l *lookups) business(ctx context.Context, q odiscuss.DBTX, configID int) (odiscuss.Partner, error) {
	if p, ok := l.businessOf[configID]; ok {
		return p, nil
	}
	p, err := businessPartner(ctx, q, configID)
	if err != nil {
		return odiscuss.Partner{}, err
	}
	if l.businessOf == nil {
		l.businessOf = map[int]odiscuss.Partner{}
	}
	l.businessOf[configID] = p
	return p, nil
}

// operatorPartners are the partners of a configuration's operators: its
// operator_ids, else the users of the Sales team (sales_team.team_sales_department),
// else the administrator (base.user_admin).
func operatorPartners(ctx context.Context, q odiscuss.DBTX, configID int) ([]int, error) {
	queries := []string{
		`SELECT u.partner_id FROM whatsapp_config_operator_rel r JOIN res_users u ON u.id = r.user_id
		 WHERE r.config_id = $1 AND u.active ORDER BY u.id`,
		`SELECT u.partner_id FROM ir_model_data d
		 JOIN crm_team_member m ON m.crm_team_id = d.res_id AND COALESCE(m.active, true)
		 JOIN res_users u ON u.id = m.user_id AND u.active
		 WHERE d.module = 'sales_team' AND d.name = 'team_sales_department' AND $1::int IS NOT NULL ORDER BY u.id`,
		`SELECT u.partner_id FROM ir_model_data d JOIN res_users u ON u.id = d.res_id
		 WHERE d.module = 'base' AND d.name = 'user_admin' AND $1::int IS NOT NULL`,
	}
	var hasTeams bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('public.crm_team_member') IS NOT NULL`).Scan(&hasTeams); err != nil {
		return nil, fmt.Errorf("look for the sales teams: %w", err)
	}
	for i, query := range queries {
		if i == 1 && !hasTeams {
			continue
		}
		rows, err := q.Query(ctx, query, configID)
		if err != nil {
			return nil, fmt.Errorf("read the operators of configuration %d: %w", configID, err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int])
		if err != nil {
			return nil, fmt.Errorf("read the operators of configuration %d: %w", configID, err)
		}
		if len(ids) > 0 {
			return ids, nil
		}
	}
	return nil, nil
}

// businessPartner is the author of our own messages in a channel: the partner of
// the configuration's company (the business speaking), else of the main company.
func businessPartner(ctx context.Context, q odiscuss.DBTX, configID int) (odiscuss.Partner, error) {
	var p odiscuss.Partner
	err := q.QueryRow(ctx, `
		SELECT p.id, COALESCE(p.name, '') FROM res_company co JOIN res_partner p ON p.id = co.partner_id
		WHERE co.id = COALESCE((SELECT company_id FROM whatsapp_config WHERE id = $1), (SELECT min(id) FROM res_company))`,
		configID).Scan(&p.ID, &p.Name)
	if errors.Is(err, pgx.ErrNoRows) {
		return odiscuss.Partner{}, nil
	}
	if err != nil {
		return odiscuss.Partner{}, fmt.Errorf("read the company partner of configuration %d: %w", configID, err)
	}
	return p, nil
}

// userName is a user's display name, for notices.
func userName(ctx context.Context, q odiscuss.DBTX, userID int) (string, error) {
	if userID == 0 {
		return "", nil
	}
	var name string
	err := q.QueryRow(ctx, `SELECT COALESCE(p.name, u.login) FROM res_users u JOIN res_partner p ON p.id = u.partner_id WHERE u.id = $1`,
		userID).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read user %d: %w", userID, err)
	}
	return name, nil
}

// partnerName is a partner's name.
func partnerName(ctx context.Context, q odiscuss.DBTX, id int) (string, error) {
	var name string
	err := q.QueryRow(ctx, `SELECT COALESCE(name, '') FROM res_partner WHERE id = $1`, id).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read partner %d: %w", id, err)
	}
	return name, nil
}

// approvedTemplates are the names of the approved templates an operator may send
// outside the window: those mapped to Discuss replies for the configuration.
func approvedTemplates(ctx context.Context, q odiscuss.DBTX, configID int) ([]string, error) {
	rows, err := q.Query(ctx, `
		SELECT DISTINCT wa_name FROM whatsapp_template
		WHERE status = 'APPROVED' AND notification_kind = $2 AND (config_id = $1 OR config_id IS NULL)
		ORDER BY wa_name`, configID, replyKind)
	if err != nil {
		return nil, fmt.Errorf("read the approved templates: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// template finds an approved template by its Meta name for a configuration.
func template(ctx context.Context, q odiscuss.DBTX, configID int, name string) (wa, lang string, found bool, err error) {
	err = q.QueryRow(ctx, `
		SELECT wa_name, COALESCE(language_code, '') FROM whatsapp_template
		WHERE status = 'APPROVED' AND (wa_name = $2 OR name = $2) AND (config_id = $1 OR config_id IS NULL)
		ORDER BY (config_id = $1) DESC NULLS LAST, id LIMIT 1`, configID, name).Scan(&wa, &lang)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, fmt.Errorf("read template %s: %w", name, err)
	}
	return wa, lang, true, nil
}

// linkedInChatter says whether the record's chatter already links to the channel.
func linkedInChatter(ctx context.Context, q odiscuss.DBTX, model string, resID, channelID int) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM mail_message WHERE model = $1 AND res_id = $2 AND body LIKE $3)`,
		model, resID, "%"+channelAnchor(channelID)+"%").Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("look for the conversation's link on %s %d: %w", model, resID, err)
	}
	return ok, nil
}

// channelAnchor is what a link to a channel in Discuss holds.
func channelAnchor(channelID int) string {
	return fmt.Sprintf("active_id=mail.channel_%d", channelID)
}
