package actions

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/accounts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify/texts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/outbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/phone"
)

// ScenarioModel is the Odoo model of interactive scenarios, the res_model of the
// messages they send.
const ScenarioModel = "whatsapp.interactive.scenario"

// KindScenario is the kind of a scenario's first message started by the business
// (the CLI); steps answering a click are "reply_scenario".
const KindScenario = "scenario"

// Scenario is a whatsapp_interactive_scenario row.
type Scenario struct {
	ID       int
	Name     string
	ConfigID int
	Message  string
	Buttons  [3]ScenarioButton
}

// ScenarioButton is one of a scenario's three buttons.
type ScenarioButton struct {
	ID              string
	Title           string
	Response        string
	SendInteractive bool
	Next            int // next scenario id, 0 for none
}

const scenarioColumns = `id, name, COALESCE(config_id, 0), initial_message,
    COALESCE(button_1_id, ''), COALESCE(button_1_title, ''), COALESCE(button_1_response, ''),
    COALESCE(button_1_send_interactive, false), COALESCE(button_1_next_scenario_id, 0),
    COALESCE(button_2_id, ''), COALESCE(button_2_title, ''), COALESCE(button_2_response, ''),
    COALESCE(button_2_send_interactive, false), COALESCE(button_2_next_scenario_id, 0),
    COALESCE(button_3_id, ''), COALESCE(button_3_title, ''), COALESCE(button_3_response, ''),
    COALESCE(button_3_send_interactive, false), COALESCE(button_3_next_scenario_id, 0)`

func scanScenario(row pgx.Row) (Scenario, error) {
	var s Scenario
	b := &s.Buttons
	err := row.Scan(&s.ID, &s.Name, &s.ConfigID, &s.Message,
		&b[0].ID, &b[0].Title, &b[0].Response, &b[0].SendInteractive, &b[0].Next,
		&b[1].ID, &b[1].Title, &b[1].Response, &b[1].SendInteractive, &b[1].Next,
		&b[2].ID, &b[2].Title, &b[2].Response, &b[2].SendInteractive, &b[2].Next)
	return s, err
}

// message is the scenario's interactive message: its text and buttons (titles cut
// to WhatsApp's 20 characters), or plain text when it has no button.
func (s Scenario) message() outbox.Message {
	m := outbox.Message{Message: notify.Message{Type: "text", Content: s.Message, ResModel: ScenarioModel, ResID: s.ID}}
	for _, b := range s.Buttons {
		if b.ID == "" || strings.TrimSpace(b.Title) == "" {
			continue
		}
		title := []rune(strings.TrimSpace(b.Title))
		m.Buttons = append(m.Buttons, notify.Button{ID: b.ID, Title: string(title[:min(len(title), 20)])})
	}
	if len(m.Buttons) > 0 {
		m.Type = "interactive"
	}
	return m
}

// scenarioStep plans the scenario step of a click: the clicked button's response,
// then the next scenario when the button leads to one (multi-step flows, e.g.
// Valider -> choose Wave or Orange Money). It says whether a scenario matched.
func (r *Runner) scenarioStep(ctx context.Context, c Click, p *Plan) (bool, error) {
	s, err := scanScenario(r.Pool.QueryRow(ctx, `SELECT `+scenarioColumns+` FROM whatsapp_interactive_scenario
		WHERE COALESCE(active, true) AND (config_id IS NULL OR config_id = $2)
		  AND $1 IN (button_1_id, button_2_id, button_3_id)
		ORDER BY COALESCE(sequence, 10), id LIMIT 1`, c.ButtonID, c.Account.ConfigID))
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("match scenario: %w", err)
	}
	var b ScenarioButton
	for _, candidate := range s.Buttons {
		if candidate.ID == c.ButtonID {
			b = candidate
			break
		}
	}
	vars := c.baseVars()
	if strings.TrimSpace(b.Response) != "" {
		p.reply("reply_scenario", ScenarioModel, s.ID, texts.Render(c.Account.Lang, "", b.Response, vars))
	}
	if b.Next != 0 {
		next, err := scanScenario(r.Pool.QueryRow(ctx, `SELECT `+scenarioColumns+` FROM whatsapp_interactive_scenario
			WHERE id = $1 AND COALESCE(active, true)`, b.Next))
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			r.logger().Warn("scenario button leads to a missing or inactive scenario", "scenario", s.Name, "next", b.Next)
		case err != nil:
			return false, fmt.Errorf("read scenario %d: %w", b.Next, err)
		default:
			step := next.message()
			m := p.message("reply_scenario", ScenarioModel, next.ID)
			m.Type, m.Content, m.Buttons = step.Type, texts.Render(c.Account.Lang, "", step.Content, vars), step.Buttons
			p.add(func(_ context.Context, _ pgx.Tx, e *effects) error {
				e.replies = append(e.replies, m)
				return nil
			})
		}
	}
	if strings.TrimSpace(b.Response) == "" && b.Next == 0 {
		r.logger().Warn("scenario button has no response and no next scenario", "scenario", s.Name, "button", c.ButtonID)
	}
	r.count("scenario", OutcomeDone)
	return true, nil
}

// ErrNoScenario is returned by StartScenario for a name no active scenario has.
var ErrNoScenario = errors.New("no active interactive scenario of that name")

// scenarioByName finds the active scenario a person named: exactly, else ignoring
// case, the first by sequence.
const scenarioByName = `WHERE COALESCE(active, true) AND (name = $1 OR lower(name) = lower($1))
ORDER BY (name = $1) DESC, COALESCE(sequence, 10), id LIMIT 1`

// ScenarioID returns the id of the active scenario named name (ErrNoScenario when
// there is none).
func ScenarioID(ctx context.Context, q DBTX, name string) (int, error) {
	var id int
	err := q.QueryRow(ctx, `SELECT id FROM whatsapp_interactive_scenario `+scenarioByName, name).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("scenario %q: %w", name, ErrNoScenario)
	}
	if err != nil {
		return 0, fmt.Errorf("find scenario %q: %w", name, err)
	}
	return id, nil
}

// StartScenario queues a scenario's first message (its text and up to three
// buttons) to a number, from the scenario's account (else the first active one),
// and returns the queued row's id; the sender sends it. The number is normalised
// with the account's default country; the partner whose number it is becomes the
// message's contact. Outside the customer's 24-hour window Meta refuses free-form
// messages (131047): a scenario reaches customers who wrote in the last 24 hours.
func StartScenario(ctx context.Context, pool DBTX, registry *accounts.Registry, scenarioName, toPhone string) (int, error) {
	s, err := scanScenario(pool.QueryRow(ctx, `SELECT `+scenarioColumns+` FROM whatsapp_interactive_scenario `+scenarioByName, scenarioName))
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("scenario %q: %w", scenarioName, ErrNoScenario)
	}
	if err != nil {
		return 0, fmt.Errorf("read scenario %q: %w", scenarioName, err)
	}
	var acc *accounts.Account
	if s.ConfigID != 0 {
		acc = registry.ByConfigID(s.ConfigID)
	} else if all := registry.All(); len(all) > 0 {
		acc = all[0]
	}
	if acc == nil {
		return 0, fmt.Errorf("scenario %q: no active WhatsApp configuration to send it from", s.Name)
	}
	num, err := phone.Normalize(toPhone, acc.DefaultRegion)
	if err != nil {
		return 0, fmt.Errorf("scenario %q: %w", s.Name, err)
	}
	m := s.message()
	m.ConfigID, m.Phone, m.Kind = acc.ConfigID, num.E164, KindScenario
	partners, err := FindPartners(ctx, pool, num, acc.DefaultRegion)
	if err != nil {
		return 0, err
	}
	vars := texts.Vars{"phone": num.E164}
	if len(partners) > 0 {
		m.ContactID, m.ContactName, vars["partner_name"] = partners[0].ID, partners[0].Name, partners[0].Name
	}
	m.Content = texts.Render(acc.Lang, "", m.Content, vars)
	err = pool.QueryRow(ctx, `SELECT id FROM whatsapp_conversation WHERE COALESCE(config_id, 0) = $1 AND wa_id = $2`,
		acc.ConfigID, num.WaID).Scan(&m.ConversationID)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("find the conversation with %s: %w", num.E164, err)
	}
	ids, err := outbox.Enqueue(ctx, pool, m)
	if err != nil {
		return 0, err
	}
	if len(ids) == 0 {
		return 0, errors.New("scenario message not queued")
	}
	return ids[0], nil
}
