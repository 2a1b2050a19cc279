package odooapp

// WindowAction is an ir_act_window row: what a menu opens.
type WindowAction struct {
	XMLID    string
	Model    string
	NameEN   string
	NameFR   string
	ViewMode string
	Context  string // Python dict: default values of the forms it opens
	HelpEN   string // shown when the list is empty
	HelpFR   string
}

// WindowActions open the sidecar's models. The messages' defaults make a message
// created in Odoo's form a draft (never sent until Action > Send), while an ORM create
// that gives no status (an automated action) gets the column default, queued.
var WindowActions = []WindowAction{
	{XMLID: "action_whatsapp_message", Model: "whatsapp.message", NameEN: "WhatsApp Messages", NameFR: "Messages WhatsApp",
		ViewMode: "tree,form", Context: "{'default_direction': 'out', 'default_status': 'draft', 'default_message_type': 'text'}",
		HelpEN: "No WhatsApp message yet: they appear here as they are sent and received.",
		HelpFR: "Aucun message WhatsApp : ils apparaissent ici dès qu'ils sont envoyés ou reçus."},
	{XMLID: "action_whatsapp_conversation", Model: "whatsapp.conversation", NameEN: "WhatsApp Conversations", NameFR: "Conversations WhatsApp",
		ViewMode: "tree,form", Context: "{}",
		HelpEN: "No conversation yet: one starts with the first message to or from a customer.",
		HelpFR: "Aucune conversation : elle commence au premier message échangé avec un client."},
	{XMLID: "action_whatsapp_template", Model: "whatsapp.template", NameEN: "WhatsApp Templates", NameFR: "Modèles WhatsApp",
		ViewMode: "tree,form", Context: "{'default_language_code': 'fr'}",
		HelpEN: "No template yet: open the configuration and choose Action > Sync the templates.",
		HelpFR: "Aucun modèle : ouvrez la configuration et choisissez Action > Synchroniser les modèles."},
	{XMLID: "action_whatsapp_button_action", Model: "whatsapp.button.action", NameEN: "WhatsApp Button Actions", NameFR: "Actions des boutons WhatsApp",
		ViewMode: "tree,form", Context: "{'default_active': True, 'default_sequence': 10, 'default_action_type': 'send_message', 'default_match_mode': 'exact'}",
		HelpEN: "What happens when a customer clicks a button: the built-in order and invoice buttons need no action here.",
		HelpFR: "Ce qui se passe quand un client clique un bouton : les boutons de commande et de facture intégrés n'en ont pas besoin."},
	{XMLID: "action_whatsapp_interactive_scenario", Model: "whatsapp.interactive.scenario", NameEN: "Interactive Scenarios", NameFR: "Scénarios interactifs",
		ViewMode: "tree,form", Context: "{'default_active': True, 'default_sequence': 10}",
		HelpEN: "A scenario is a message with up to three buttons and an automatic answer to each.",
		HelpFR: "Un scénario est un message avec jusqu'à trois boutons et une réponse automatique pour chacun."},
	{XMLID: "action_whatsapp_config", Model: "whatsapp.config", NameEN: "WhatsApp Configuration", NameFR: "Configuration WhatsApp",
		ViewMode: "tree,form",
		// The columns' defaults, which an Odoo form would otherwise send as false or 0.
		Context: "{'default_name': 'WhatsApp Business', 'default_is_active': True, 'default_lang': 'fr', " +
			"'default_auto_send_order_creation': True, 'default_auto_send_order_state': True, 'default_auto_send_invoice': True, " +
			"'default_auto_send_invoice_residual': True, 'default_unpaid_invoice_days': 7, 'default_unpaid_reminder_interval_days': 7, " +
			"'default_unpaid_reminder_max_count': 3, 'default_rate_limit_per_second': 80, 'default_payment_wave_enabled': True, " +
			"'default_payment_orange_enabled': True, 'default_show_button_in_order': True, 'default_show_button_in_invoice': True, " +
			"'default_show_button_in_partner': True}",
		HelpEN: "Add the WhatsApp Business number the sidecar sends from.",
		HelpFR: "Ajoutez le numéro WhatsApp Business depuis lequel le sidecar envoie."},
}

// Menu is an ir_ui_menu row.
type Menu struct {
	XMLID    string
	Parent   string // XMLID of the parent menu; empty for the app's root
	NameEN   string
	NameFR   string
	Sequence int
	Action   string   // XMLID of a WindowAction
	Groups   []string // external ids of the groups that see it; none: everyone
}

// Menus are the WhatsApp app: parents before children.
var Menus = []Menu{
	{XMLID: "menu_whatsapp_root", NameEN: "WhatsApp", NameFR: "WhatsApp", Sequence: 60, Groups: []string{groupUser}},
	{XMLID: "menu_whatsapp_message", Parent: "menu_whatsapp_root", NameEN: "Messages", NameFR: "Messages", Sequence: 10, Action: "action_whatsapp_message"},
	{XMLID: "menu_whatsapp_conversation", Parent: "menu_whatsapp_root", NameEN: "Conversations", NameFR: "Conversations", Sequence: 20, Action: "action_whatsapp_conversation"},
	{XMLID: "menu_whatsapp_template", Parent: "menu_whatsapp_root", NameEN: "Templates", NameFR: "Modèles", Sequence: 30, Action: "action_whatsapp_template"},
	{XMLID: "menu_whatsapp_button_action", Parent: "menu_whatsapp_root", NameEN: "Button actions", NameFR: "Actions des boutons", Sequence: 40, Action: "action_whatsapp_button_action", Groups: []string{groupManager}},
	{XMLID: "menu_whatsapp_interactive_scenario", Parent: "menu_whatsapp_root", NameEN: "Scenarios", NameFR: "Scénarios", Sequence: 50, Action: "action_whatsapp_interactive_scenario"},
	{XMLID: "menu_whatsapp_config", Parent: "menu_whatsapp_root", NameEN: "Configuration", NameFR: "Configuration", Sequence: 90, Action: "action_whatsapp_config", Groups: []string{groupManager}},
}
