package odooapp

// Access is an ir_model_access row.
type Access struct {
	XMLID string
	Model string
	Group string // external id of a res.groups
	Perms string // of "rwcu": read, write, create, unlink
}

// Accesses: internal users read and send (messages, conversations, scenarios,
// templates); Settings managers edit everything, and alone see the configuration and
// the button actions, which hold secrets (access token, app secret, callback secret):
// Odoo 16 cannot restrict a manual field to a group.
var Accesses = []Access{
	{XMLID: "access_whatsapp_message_user", Model: "whatsapp.message", Group: groupUser, Perms: "rwc"},
	{XMLID: "access_whatsapp_message_manager", Model: "whatsapp.message", Group: groupManager, Perms: "rwcu"},
	{XMLID: "access_whatsapp_conversation_user", Model: "whatsapp.conversation", Group: groupUser, Perms: "rwc"},
	{XMLID: "access_whatsapp_conversation_manager", Model: "whatsapp.conversation", Group: groupManager, Perms: "rwcu"},
	{XMLID: "access_whatsapp_template_user", Model: "whatsapp.template", Group: groupUser, Perms: "r"},
	{XMLID: "access_whatsapp_template_manager", Model: "whatsapp.template", Group: groupManager, Perms: "rwcu"},
	{XMLID: "access_whatsapp_interactive_scenario_user", Model: "whatsapp.interactive.scenario", Group: groupUser, Perms: "r"},
	{XMLID: "access_whatsapp_interactive_scenario_manager", Model: "whatsapp.interactive.scenario", Group: groupManager, Perms: "rwcu"},
	{XMLID: "access_whatsapp_button_action_manager", Model: "whatsapp.button.action", Group: groupManager, Perms: "rwcu"},
	{XMLID: "access_whatsapp_config_manager", Model: "whatsapp.config", Group: groupManager, Perms: "rwcu"},
}
