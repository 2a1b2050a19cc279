package odooapp

import (
	"embed"
	"path"
)

//go:embed actions/*.py
var actionFiles embed.FS

// ServerAction is an ir_act_server row of state 'code', bound to its model's Action
// menu. Its code only creates or updates rows of the sidecar's models (a queued
// message, a draft, a sync request): the sidecar does the work.
type ServerAction struct {
	XMLID  string
	Model  string
	NameEN string
	NameFR string
	File   string   // under actions/
	Groups []string // external ids of the groups allowed to run it
	// Switch is the whatsapp_config column that shows or hides the action; empty:
	// always shown. sql/migrations/022_action_bindings.sql maps the same columns to
	// the same actions, for its trigger.
	Switch string
}

// Code returns the action's Python code.
func (a ServerAction) Code() string {
	b, err := actionFiles.ReadFile(path.Join("actions", a.File))
	if err != nil {
		// Embedded and checked by the tests; a missing file is a build mistake.
		panic(err)
	}
	return string(b)
}

const (
	groupUser    = "base.group_user"   // internal users
	groupManager = "base.group_system" // Settings (administration)
)

// ServerActions are what a user can do from Odoo.
var ServerActions = []ServerAction{
	{XMLID: "action_send_sale_order", Model: "sale.order", NameEN: "Send by WhatsApp", NameFR: "Envoyer par WhatsApp",
		File: "send_order.py", Groups: []string{groupUser}, Switch: "show_button_in_order"},
	{XMLID: "action_send_account_move", Model: "account.move", NameEN: "Send by WhatsApp", NameFR: "Envoyer par WhatsApp",
		File: "send_invoice.py", Groups: []string{groupUser}, Switch: "show_button_in_invoice"},
	{XMLID: "action_send_res_partner", Model: "res.partner", NameEN: "Send by WhatsApp", NameFR: "Envoyer par WhatsApp",
		File: "send_partner.py", Groups: []string{groupUser}, Switch: "show_button_in_partner"},
	{XMLID: "action_message_reply", Model: "whatsapp.message", NameEN: "Reply", NameFR: "Répondre",
		File: "reply.py", Groups: []string{groupUser}},
	{XMLID: "action_message_send", Model: "whatsapp.message", NameEN: "Send", NameFR: "Envoyer",
		File: "send_draft.py", Groups: []string{groupUser}},
	{XMLID: "action_scenario_send", Model: "whatsapp.interactive.scenario", NameEN: "Send the scenario", NameFR: "Envoyer le scénario",
		File: "send_scenario.py", Groups: []string{groupUser}},
	{XMLID: "action_config_sync_templates", Model: "whatsapp.config", NameEN: "Sync the templates", NameFR: "Synchroniser les modèles",
		File: "sync_templates.py", Groups: []string{groupManager}},
}
