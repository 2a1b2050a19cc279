package odooapp

import "strings"

// Model is one manual model Odoo builds from an ir_model row (state 'manual'): its
// table is created by the migrations, shaped as Odoo's ORM would create it.
type Model struct {
	Name    string // e.g. "whatsapp.message"; its table is Name with dots as underscores
	LabelEN string
	LabelFR string
	Order   string // ir_model.order: Odoo's _order, only stored fields
	// Info becomes the model class's docstring. Odoo reflects it on `-u`; left empty,
	// Odoo would write BaseModel's docstring over the row.
	Info   string
	Fields []Field
}

// Table is the PostgreSQL table of the model.
func (m Model) Table() string { return strings.ReplaceAll(m.Name, ".", "_") }

// Field is one manual field Odoo loads from ir_model_fields. The zero values match
// what Odoo's reflection (_reflect_field_params) writes for such a field, so a later
// `odoo -u` finds the row as it would write it and leaves its labels alone (a row it
// rewrites loses every translation but en_US).
type Field struct {
	Model   string // Odoo model, e.g. "sale.order"
	Name    string // column name
	Type    string // Odoo ttype: boolean, char, datetime, integer, many2one, one2many, reference, selection, text
	LabelEN string
	LabelFR string
	HelpEN  string
	HelpFR  string

	Required bool // exactly the columns that are NOT NULL: Odoo adds or drops NOT NULL to match
	Readonly bool
	// Index only where the migrations created the index Odoo would name
	// <table>_<field>_index: for any other, `odoo -u` would create one.
	Index bool

	Relation      string // many2one, one2many, many2many: the comodel
	OnDelete      string // many2one: same as the column's FOREIGN KEY ON DELETE
	RelationField string // one2many: the inverse many2one
	// many2many: the relation table the migrations create and its columns (this
	// model's, the comodel's).
	RelationTable, Column1, Column2 string

	Selection []Option

	// Compute is the body of a non-stored computed field, Python run by Odoo's
	// safe_eval with `self` bound; Depends lists its dependencies. Such a field is
	// registered read-only: Odoo makes its own computed fields so, but takes a manual
	// field's readonly as written, and would offer to edit what it cannot save.
	Compute string
	Depends string
}

// Option is one value of a selection field.
type Option struct {
	Value   string
	LabelEN string
	LabelFR string
}

// Stored reports whether the field has a column.
func (f Field) Stored() bool {
	return f.Store() && f.Type != "one2many" && f.Type != "many2many"
}

// Store is Odoo's `store` attribute: every field but a computed one. A one2many has no
// column yet is stored for Odoo; registered with store false, it reads as always empty.
func (f Field) Store() bool { return f.Compute == "" }

// Copied is Odoo's `copy` attribute: what a duplicated record keeps. Technical ids
// and delivery tracking of a message must not be duplicated.
func (f Field) Copied() bool {
	if !f.Stored() || strings.HasPrefix(f.Name, "x_whatsapp_") {
		return false
	}
	switch f.Name {
	case "wa_message_id", "wa_conversation_id", "dedup_key", "raw_payload", "raw_response",
		"wa_status", "button_id", "error_code", "error_message", "attempts", "next_attempt_at", "retry_reason", "claimed_by",
		"dispatched_at", "note_pending", "flags_pending",
		"sent_at", "delivered_at", "read_at", "failed_at", "meta_template_id", "last_synced_at",
		"template_sync_requested_at", "templates_synced_at",
		"discuss_channel_id", "discuss_window_notice_for", "discuss_message_id", "discuss_shown":
		return false
	}
	return true
}

// Models are the sidecar's tables as Odoo models, in dependency order (a model's
// many2one targets come first, so a fresh install can resolve them).
var Models = withModelNames([]Model{
	configModel,
	templateModel,
	conversationModel,
	messageModel,
	buttonActionModel,
	scenarioModel,
})

func withModelNames(models []Model) []Model {
	for i := range models {
		for j := range models[i].Fields {
			models[i].Fields[j].Model = models[i].Name
		}
	}
	return models
}

// Field constructors keep the tables below one line per column.

func field(name, ttype, en, fr string, opts ...func(*Field)) Field {
	f := Field{Name: name, Type: ttype, LabelEN: en, LabelFR: fr}
	for _, opt := range opts {
		opt(&f)
	}
	return f
}

func many2one(name, comodel, onDelete, en, fr string, opts ...func(*Field)) Field {
	f := field(name, "many2one", en, fr, opts...)
	f.Relation, f.OnDelete = comodel, onDelete
	return f
}

func selection(name, en, fr string, options []Option, opts ...func(*Field)) Field {
	f := field(name, "selection", en, fr, opts...)
	f.Selection = options
	return f
}

func required(f *Field) { f.Required = true }
func readonly(f *Field) { f.Readonly = true }
func indexed(f *Field)  { f.Index = true }

func help(en, fr string) func(*Field) {
	return func(f *Field) { f.HelpEN, f.HelpFR = en, fr }
}

var configModel = Model{
	Name: "whatsapp.config", LabelEN: "WhatsApp Business Configuration", LabelFR: "Configuration WhatsApp Business",
	Order: "id", Info: "A WhatsApp Business phone number the sidecar sends from, and its switches.",
	Fields: []Field{
		field("name", "char", "Name", "Nom", required),
		field("is_active", "boolean", "Active", "Actif",
			help("The sidecar uses the active configuration of the record's company.", "Le sidecar utilise la configuration active de la société du document.")),
		many2one("company_id", "res.company", "set null", "Company", "Société"),
		field("facebook_app_id", "char", "Facebook App ID", "ID de l'application Facebook"),
		field("facebook_app_secret", "char", "Facebook App Secret", "Secret de l'application Facebook",
			help("Checks the signature of Meta's webhooks. The sidecar's environment wins over this field.", "Vérifie la signature des webhooks de Meta. L'environnement du sidecar l'emporte sur ce champ.")),
		field("whatsapp_business_account_id", "char", "WhatsApp Business Account ID", "ID du compte WhatsApp Business"),
		field("phone_number_id", "char", "Phone Number ID", "ID du numéro de téléphone", required),
		field("access_token", "char", "Access Token (permanent)", "Jeton d'accès (permanent)",
			help("System user token. The sidecar's environment wins over this field.", "Jeton d'un utilisateur système. L'environnement du sidecar l'emporte sur ce champ.")),
		field("verify_token", "char", "Webhook Verify Token", "Jeton de vérification du webhook",
			help("Token Meta sends to verify the webhook.", "Jeton que Meta envoie pour vérifier le webhook.")),
		field("webhook_url", "char", "Webhook URL", "URL Webhook",
			help("Public URL given to Meta, e.g. https://example.com/whatsapp/webhook", "URL publique exposée à Meta (ex : https://example.com/whatsapp/webhook)")),
		field("default_country_code", "char", "Default country code", "Indicatif pays par défaut",
			help("For numbers written without a country code, e.g. SN.", "Pour les numéros saisis sans indicatif, ex. SN.")),
		field("lang", "char", "Message language", "Langue des messages",
			help("fr or en: the language of the notification texts.", "fr ou en : la langue des textes de notification.")),
		field("rate_limit_per_second", "integer", "Messages per second", "Messages par seconde"),
		field("auto_send_order_creation", "boolean", "Send orders when created", "Envoyer automatiquement les commandes après création"),
		field("auto_send_order_state", "boolean", "Send order confirmations and cancellations", "Envoyer les confirmations et annulations de commande"),
		field("auto_send_invoice", "boolean", "Send invoices when posted", "Envoyer les factures validées"),
		field("auto_send_invoice_residual", "boolean", "Send payment updates", "Envoyer les paiements reçus"),
		field("auto_send_unpaid_invoices", "boolean", "Send unpaid invoice reminders", "Envoyer automatiquement les factures impayées"),
		field("unpaid_invoice_days", "integer", "Days after due date before the first reminder", "Nombre de jours avant envoi facture impayée", required),
		field("unpaid_reminder_interval_days", "integer", "Days between reminders", "Jours entre deux rappels"),
		field("unpaid_reminder_max_count", "integer", "Maximum number of reminders", "Nombre maximum de rappels"),
		field("show_button_in_order", "boolean", "\"Send by WhatsApp\" on orders", "Afficher le bouton WhatsApp dans les commandes"),
		field("show_button_in_invoice", "boolean", "\"Send by WhatsApp\" on invoices", "Afficher le bouton WhatsApp dans les factures"),
		field("show_button_in_partner", "boolean", "\"Send by WhatsApp\" on contacts", "Afficher le bouton WhatsApp dans les partenaires"),
		many2one("template_invoice_id", "whatsapp.template", "set null", "Invoice template", "Modèle pour l'envoi des factures"),
		field("payment_wave_enabled", "boolean", "Wave payment button", "Bouton de paiement Wave"),
		field("payment_wave_text", "text", "Wave payment details", "Détails du paiement Wave"),
		field("payment_orange_enabled", "boolean", "Orange Money payment button", "Bouton de paiement Orange Money"),
		field("payment_orange_text", "text", "Orange Money payment details", "Détails du paiement Orange Money"),
		field("opt_out_keywords", "char", "Opt-out keywords", "Mots-clés de désinscription",
			help("Comma-separated words a customer sends to stop messages, e.g. STOP.", "Mots séparés par des virgules qu'un client envoie pour ne plus recevoir de messages, ex. STOP.")),
		field("opt_in_keywords", "char", "Opt-in keywords", "Mots-clés de réinscription"),
		field("text_order_created", "text", "Text: order created", "Texte : commande créée"),
		field("text_order_confirmed", "text", "Text: order confirmed", "Texte : commande confirmée"),
		field("text_order_cancelled", "text", "Text: order cancelled", "Texte : commande annulée"),
		field("text_invoice_posted", "text", "Text: invoice posted", "Texte : facture validée"),
		field("text_invoice_residual", "text", "Text: payment received", "Texte : paiement reçu"),
		field("text_invoice_paid", "text", "Text: invoice paid", "Texte : facture payée"),
		field("text_invoice_reminder", "text", "Text: unpaid invoice reminder", "Texte : rappel de facture impayée"),
		field("template_sync_requested_at", "datetime", "Template sync requested on", "Synchronisation des modèles demandée le", readonly),
		field("templates_synced_at", "datetime", "Templates synced on", "Modèles synchronisés le", readonly),
		{Name: "operator_ids", Type: "many2many", LabelEN: "Operators (Discuss)", LabelFR: "Opérateurs (Discuss)",
			HelpEN:   "The users whose Discuss shows this number's WhatsApp conversations. Empty: the Sales team's users, else the administrator.",
			HelpFR:   "Les utilisateurs dont Discuss affiche les conversations WhatsApp de ce numéro. Vide : les utilisateurs de l'équipe Ventes, sinon l'administrateur.",
			Relation: "res.users", RelationTable: "whatsapp_config_operator_rel", Column1: "config_id", Column2: "user_id"},
	},
}

var templateModel = Model{
	Name: "whatsapp.template", LabelEN: "WhatsApp Template", LabelFR: "Modèle WhatsApp",
	Order: "name, id", Info: "A message template approved by Meta, as synced by the sidecar.",
	Fields: []Field{
		field("name", "char", "Internal name", "Nom interne Odoo", required),
		field("wa_name", "char", "WhatsApp template name (Meta)", "Nom du modèle chez Meta", required),
		field("language_code", "char", "Language", "Langue"),
		selection("category", "Category", "Catégorie", []Option{
			{"MARKETING", "Marketing", "Marketing"},
			{"UTILITY", "Utility", "Utilitaire"},
			{"AUTHENTICATION", "Authentication", "Authentification"},
			{"UNKNOWN", "Unknown", "Inconnu"},
		}),
		// Every status Meta reports, so a synced row always shows a label.
		selection("status", "Status", "Statut", []Option{
			{"APPROVED", "Approved", "Approuvé"},
			{"PENDING", "Pending", "En attente"},
			{"REJECTED", "Rejected", "Rejeté"},
			{"PAUSED", "Paused", "En pause"},
			{"DISABLED", "Disabled", "Désactivé"},
			{"IN_APPEAL", "In appeal", "En appel"},
			{"PENDING_DELETION", "Pending deletion", "Suppression en attente"},
			{"DELETED", "Deleted", "Supprimé"},
			{"LIMIT_EXCEEDED", "Limit exceeded", "Limite dépassée"},
		}),
		field("description", "text", "Description / Notes", "Description / Notes"),
		field("parameter_structure", "text", "Parameter structure", "Structure des paramètres"),
		field("parameter_format", "char", "Parameter format", "Format des paramètres", readonly),
		field("components", "text", "Components (JSON, from Meta)", "Composants (JSON, depuis Meta)", readonly),
		field("notification_kind", "char", "Used for notification", "Utilisé pour la notification",
			help("The notification this template replaces outside the 24-hour window, e.g. invoice_posted.", "La notification que ce modèle remplace hors de la fenêtre de 24 heures, ex. invoice_posted.")),
		field("meta_template_id", "char", "Meta template ID", "ID du modèle chez Meta", readonly),
		many2one("config_id", "whatsapp.config", "set null", "Configuration", "Configuration"),
		field("last_synced_at", "datetime", "Last synced on", "Dernière synchronisation", readonly),
	},
}

var conversationModel = Model{
	Name: "whatsapp.conversation", LabelEN: "WhatsApp Conversation", LabelFR: "Conversation WhatsApp",
	Order: "last_message_at desc, id desc", Info: "The messages exchanged with one customer on one WhatsApp number.",
	Fields: []Field{
		field("name", "char", "Conversation", "Identifiant", required),
		field("phone", "char", "Phone number", "Numéro de téléphone"),
		many2one("contact_id", "res.partner", "set null", "Contact", "Contact", indexed),
		field("contact_name", "char", "Contact name (if available)", "Nom contact (si disponible)"),
		field("wa_id", "char", "WhatsApp ID", "ID WhatsApp", readonly),
		many2one("config_id", "whatsapp.config", "set null", "Configuration", "Configuration"),
		field("last_inbound_at", "datetime", "Last customer message", "Dernier message du client", readonly,
			help("Free-form messages are allowed for 24 hours after it; later, only templates.", "Les messages libres sont permis 24 heures après ; ensuite, seulement des modèles.")),
		field("last_message_at", "datetime", "Last message", "Dernier message", readonly),
		field("opt_out", "boolean", "Opted out", "Désinscrit",
			help("The customer sent an opt-out keyword (STOP) from this number.", "Le client a envoyé un mot-clé de désinscription (STOP) depuis ce numéro.")),
		field("opt_out_date", "datetime", "Opt-out date", "Date de désinscription", readonly),
		selection("state", "Status", "Statut", []Option{
			{"open", "Open", "Ouverte"},
			{"closed", "Closed", "Fermée"},
		}, help("Closed conversations reopen when the customer writes again.", "Une conversation fermée se rouvre quand le client écrit de nouveau.")),
		many2one("assigned_user_id", "res.users", "set null", "Assigned to", "Assignée à",
			help("The operator who handles the conversation; its Discuss channel says so.", "L'opérateur qui traite la conversation ; son canal Discuss l'indique.")),
		many2one("discuss_channel_id", "mail.channel", "set null", "Discuss channel", "Canal Discuss", readonly, indexed),
		field("discuss_window_notice_for", "datetime", "24-hour window closing told for", "Fin de fenêtre de 24 h signalée pour", readonly),
		// A link that opens the channel in Discuss (the many2one opens its settings).
		{Name: "discuss_url", Type: "char", LabelEN: "Open in Discuss", LabelFR: "Ouvrir dans Discuss",
			Compute: "action = self.env.ref('mail.action_discuss', raise_if_not_found=False)\n" +
				"for rec in self:\n" +
				"    rec['discuss_url'] = action and rec.discuss_channel_id and '/web#action=%s&active_id=mail.channel_%s' % (action.id, rec.discuss_channel_id.id) or False",
			Depends: "discuss_channel_id"},
		{Name: "message_ids", Type: "one2many", LabelEN: "Messages", LabelFR: "Messages",
			Relation: "whatsapp.message", RelationField: "conversation_id"},
		{Name: "message_count", Type: "integer", LabelEN: "Number of messages", LabelFR: "Nombre de messages",
			Compute: "for rec in self:\n    rec['message_count'] = len(rec.message_ids)", Depends: "message_ids"},
	},
}

// Message statuses: the sidecar's pipeline (queued -> sending -> sent -> delivered ->
// read, failed), inbound messages (received), the seed module's error, and draft for
// messages a user is still writing, which the sender never picks.
var messageStatuses = []Option{
	{"draft", "Draft", "Brouillon"},
	{"queued", "Queued", "En file d'attente"},
	{"sending", "Sending", "Envoi en cours"},
	{"unknown", "Unknown (answer lost)", "Incertain (réponse perdue)"},
	{"sent", "Sent", "Envoyé"},
	{"delivered", "Delivered", "Délivré"},
	{"read", "Read", "Lu"},
	{"failed", "Failed", "Échec"},
	{"received", "Received", "Reçu"},
	{"error", "Error", "Erreur"},
}

// documentModels are the models a message's res_model names: what the sidecar and
// the actions write (orders, invoices, conversations, scenarios) and contacts, which
// an integrator may queue a message about.
var documentModels = []Option{
	{"sale.order", "Sales Order", "Bon de commande"},
	{"account.move", "Invoice", "Facture"},
	{"res.partner", "Contact", "Contact"},
	{"whatsapp.conversation", "WhatsApp Conversation", "Conversation WhatsApp"},
	{"whatsapp.interactive.scenario", "Interactive Scenario", "Scénario interactif"},
	{"mail.channel", "Discuss channel", "Canal Discuss"},
}

// resourceRefCompute links each message to its document, one search per model, and
// leaves the link empty where the document was deleted or the user may not read it
// (Odoo would otherwise fail the whole form on the document's name_get).
func resourceRefCompute(models []Option) string {
	return "found = {}\n" +
		"for model in set(self.mapped('res_model')):\n" +
		"    if model in " + pythonTuple(models) + " and model in self.env and self.env[model].check_access_rights('read', raise_exception=False):\n" +
		"        ids = []\n" +
		"        for rec in self:\n" +
		"            if rec.res_model == model and rec.res_id:\n" +
		"                ids.append(rec.res_id)\n" +
		"        found[model] = set(self.env[model].with_context(active_test=False).search([('id', 'in', ids)]).ids)\n" +
		"for rec in self:\n" +
		"    if rec.res_id and rec.res_id in found.get(rec.res_model, ()):\n" +
		"        rec['resource_ref'] = '%s,%s' % (rec.res_model, rec.res_id)\n" +
		"    else:\n" +
		"        rec['resource_ref'] = False"
}

// messageKinds are the values of whatsapp_message.kind the sidecar writes:
// notifications (package notify), intents queued from Odoo, and the answers to a
// customer's click or keyword (the reply_* texts).
var messageKinds = []Option{
	{"order_created", "Order created", "Commande créée"},
	{"order_summary", "Order sent from Odoo", "Commande envoyée depuis Odoo"},
	{"order_confirmed", "Order confirmed", "Commande confirmée"},
	{"order_cancelled", "Order cancelled", "Commande annulée"},
	{"order_details", "Order details", "Détail de la commande"},
	{"invoice_posted", "Invoice posted", "Facture validée"},
	{"invoice_buttons", "Invoice payment buttons", "Boutons de paiement de la facture"},
	{"invoice_pdf", "Invoice PDF", "Facture PDF"},
	{"invoice_residual", "Payment received", "Paiement reçu"},
	{"invoice_paid", "Invoice paid", "Facture payée"},
	{"invoice_reminder", "Unpaid invoice reminder", "Rappel de facture impayée"},
	{"scenario", "Interactive scenario", "Scénario interactif"},
	{"reply_order_validated", "Reply: order confirmed", "Réponse : commande confirmée"},
	{"reply_order_cancelled", "Reply: order cancelled", "Réponse : commande annulée"},
	{"reply_order_already_confirmed", "Reply: order already confirmed", "Réponse : commande déjà confirmée"},
	{"reply_order_already_cancelled", "Reply: order already cancelled", "Réponse : commande déjà annulée"},
	{"reply_order_not_cancellable", "Reply: order no longer cancellable", "Réponse : commande non annulable"},
	{"reply_order_confirm_failed", "Reply: order not confirmed", "Réponse : échec de la confirmation"},
	{"reply_order_cancel_failed", "Reply: order not cancelled", "Réponse : échec de l'annulation"},
	{"reply_order_details", "Reply: order details", "Réponse : détail de la commande"},
	{"reply_record_not_found", "Reply: document not found", "Réponse : document introuvable"},
	{"reply_payment_wave", "Reply: Wave payment", "Réponse : paiement Wave"},
	{"reply_payment_orange", "Reply: Orange Money payment", "Réponse : paiement Orange Money"},
	{"reply_payment_unavailable", "Reply: payment unavailable", "Réponse : paiement indisponible"},
	{"reply_invoice_already_paid", "Reply: invoice already paid", "Réponse : facture déjà payée"},
	{"reply_scenario", "Reply: scenario step", "Réponse : étape de scénario"},
	{"reply_message", "Reply: button action", "Réponse : action de bouton"},
	{"reply_callback", "Reply: from the callback URL", "Réponse : de l'URL de rappel"},
	{"reply_opt_out", "Reply: unsubscribed", "Réponse : désinscription"},
	{"reply_opt_in", "Reply: subscribed again", "Réponse : réinscription"},
	{"discuss_reply", "Answer from Discuss", "Réponse depuis Discuss"},
}

// kindLabelCompute copies kind into the selection where it is one of kinds; a value
// outside the selection would fail the read.
func kindLabelCompute(kinds []Option) string {
	return "for rec in self:\n" +
		"    rec['kind_label'] = rec.kind in " + pythonTuple(kinds) + " and rec.kind or False"
}

// pythonTuple is the values of options as a Python tuple literal; the values are
// identifiers and model names, which need no escaping.
func pythonTuple(options []Option) string {
	var b strings.Builder
	b.WriteString("(")
	for _, o := range options {
		b.WriteString("'" + o.Value + "', ")
	}
	b.WriteString(")")
	return b.String()
}

// clickedPython starts a compute that marks a click (a row with a button_id) in the
// reader's language: Odoo runs the compute for each request with the user's lang, and
// the stored content is only the title the customer tapped.
const clickedPython = "clicked = (self.env.lang or 'en_US')[:2] == 'fr' and 'Clic sur « %s »' or 'Clicked \"%s\"'\n"

var messageModel = Model{
	Name: "whatsapp.message", LabelEN: "WhatsApp Message", LabelFR: "Journal des messages WhatsApp",
	Order: "create_date desc, id desc", Info: "One WhatsApp message, sent or received. A row with status queued is sent by the sidecar.",
	Fields: []Field{
		// What Odoo shows for a message (breadcrumbs, many2one): direction, who, what.
		{Name: "name", Type: "char", LabelEN: "Summary", LabelFR: "Résumé",
			Compute: clickedPython +
				"for rec in self:\n" +
				"    who = rec.contact_name or rec.contact_id.name or rec.phone or ''\n" +
				"    what = (rec.content or rec.kind or rec.message_type or '').split('\\n')[0][:60]\n" +
				"    what = rec.button_id and clicked % what or what\n" +
				"    rec['name'] = '%s %s: %s' % ('←' if rec.direction == 'in' else '→', who, what)",
			Depends: "direction,contact_name,contact_id,phone,content,kind,message_type,button_id"},
		selection("direction", "Direction", "Direction", []Option{
			{"in", "Inbound", "Entrant"},
			{"out", "Outbound", "Sortant"},
		}, required),
		selection("status", "Status", "Statut", messageStatuses),
		selection("message_type", "Message type", "Type de message", []Option{
			{"text", "Text", "Texte"},
			{"image", "Image", "Image"},
			{"audio", "Audio", "Audio"},
			{"video", "Video", "Vidéo"},
			{"document", "Document", "Document"},
			{"sticker", "Sticker", "Sticker"},
			{"location", "Location", "Localisation"},
			{"contacts", "Contacts", "Contacts"},
			{"interactive", "Interactive / buttons", "Interactif / Boutons"},
			{"button", "Template button", "Bouton de modèle"},
			{"reaction", "Reaction", "Réaction"},
			{"template", "Template", "Modèle"},
			{"unknown", "Unknown", "Inconnu"},
		}),
		many2one("config_id", "whatsapp.config", "set null", "Configuration", "Configuration"),
		many2one("conversation_id", "whatsapp.conversation", "set null", "Conversation", "Conversation", indexed),
		many2one("contact_id", "res.partner", "set null", "Contact", "Contact", indexed),
		field("phone", "char", "Phone number", "Numéro de téléphone",
			help("Empty: the contact's mobile, else phone.", "Vide : le mobile du contact, sinon son téléphone.")),
		field("contact_name", "char", "Contact name (if available)", "Nom contact (si disponible)"),
		field("content", "text", "Message", "Contenu du message"),
		field("res_model", "char", "Related document model", "Modèle de document associé", readonly),
		field("res_id", "integer", "Related document ID", "ID du document associé", readonly),
		// res_model and res_id as a link Odoo opens, the way Odoo's own rating.rating
		// shows its document (a computed reference): a manual many2one_reference has no
		// model_field in Odoo 16, so its widget cannot tell the model.
		{Name: "resource_ref", Type: "reference", LabelEN: "Related document", LabelFR: "Document associé",
			Selection: documentModels, Compute: resourceRefCompute(documentModels), Depends: "res_model,res_id"},
		field("kind", "char", "Notification key", "Clé de notification", readonly,
			help("What the sidecar renders for an empty message: order_summary, invoice_pdf, scenario, or a notification.", "Ce que le sidecar compose pour un message vide : order_summary, invoice_pdf, scenario, ou une notification.")),
		// kind stays free text (anyone may queue a row); its label is a computed
		// selection, so Odoo translates it, empty for a kind it does not know.
		{Name: "kind_label", Type: "selection", LabelEN: "Notification", LabelFR: "Notification",
			Selection: messageKinds, Compute: kindLabelCompute(messageKinds), Depends: "kind"},
		// One line for lists: a multi-line text makes a list row as tall as the message.
		{Name: "preview", Type: "char", LabelEN: "Preview", LabelFR: "Aperçu",
			Compute: clickedPython +
				"for rec in self:\n" +
				"    text = ' '.join((rec.content or rec.caption or '').split())\n" +
				"    text = rec.button_id and clicked % text or text\n" +
				"    rec['preview'] = len(text) > 100 and text[:99] + '…' or text",
			Depends: "content,caption,button_id"},
		field("button_id", "char", "Clicked button ID", "ID du bouton cliqué", readonly,
			help("The id of the button or list row the customer clicked; the message holds its title.",
				"L'ID du bouton ou de la ligne de liste sur lequel le client a cliqué ; le message en contient le titre.")),
		field("reply_to_wa_message_id", "char", "In reply to (WhatsApp ID)", "En réponse à (ID WhatsApp)", readonly),
		field("buttons", "text", "Buttons (JSON)", "Boutons (JSON)", readonly),
		field("params", "text", "Template parameters (JSON)", "Paramètres du modèle WhatsApp (JSON)", readonly,
			help("The values the text was rendered from, to fill an approved template outside the 24-hour window.", "Les valeurs dont le texte a été composé, pour remplir un modèle approuvé hors de la fenêtre de 24 heures.")),
		many2one("attachment_id", "ir.attachment", "set null", "Attachment", "Pièce jointe", readonly),
		field("media_id", "char", "Media ID (Meta)", "ID Média (Meta)", readonly),
		field("media_url", "char", "Media URL", "URL Média (si lien)", readonly),
		field("media_mime_type", "char", "MIME type", "Type MIME", readonly),
		field("caption", "char", "Caption", "Légende média"),
		field("template_name", "char", "Template name", "Nom du modèle WhatsApp"),
		field("template_language", "char", "Template language", "Langue du modèle WhatsApp"),
		field("template_components", "text", "Template components (JSON)", "Composants du modèle WhatsApp (JSON)"),
		field("wa_message_id", "char", "WhatsApp message ID", "ID Message WhatsApp", readonly),
		field("wa_conversation_id", "char", "WhatsApp conversation ID", "ID Conversation", readonly),
		field("wa_status", "char", "Raw WhatsApp status", "Statut WhatsApp brut", readonly),
		field("dedup_key", "char", "Deduplication key", "Clé de déduplication", readonly),
		field("attempts", "integer", "Attempts", "Tentatives", readonly),
		field("next_attempt_at", "datetime", "Next attempt", "Prochaine tentative", readonly),
		field("retry_reason", "char", "Waiting because", "En attente car", readonly,
			help("Why a queued message waits: transient, pair_rate_limit, auth, account, no_credentials, shutdown.",
				"Pourquoi un message en file attend : transient, pair_rate_limit, auth, account, no_credentials, shutdown.")),
		field("claimed_by", "integer", "Sender", "Expéditeur", readonly,
			help("The sidecar process sending it (its owner id) while the status is Sending.",
				"Le processus du sidecar qui l'envoie (son identifiant) tant que le statut est En cours d'envoi.")),
		field("dispatched_at", "datetime", "Request to Meta at", "Requête à Meta le", readonly,
			help("When the last request to Meta left: with status Unknown, Meta may have received it.",
				"Quand la dernière requête est partie vers Meta : avec le statut Incertain, Meta a pu la recevoir.")),
		field("note_pending", "boolean", "Chatter note pending", "Note du chatter en attente", readonly),
		field("flags_pending", "boolean", "Odoo flags pending", "Indicateurs Odoo en attente", readonly,
			help("The x_whatsapp_* flags of the order or invoice are written at the next moment no Odoo transaction is open.",
				"Les indicateurs x_whatsapp_* de la commande ou de la facture sont écrits au prochain instant où aucune transaction Odoo n'est ouverte.")),
		field("error_code", "integer", "Error code", "Code d'erreur", readonly),
		field("error_message", "text", "Error", "Message d'erreur", readonly),
		field("sent_at", "datetime", "Sent on", "Envoyé le", readonly),
		field("delivered_at", "datetime", "Delivered on", "Délivré le", readonly),
		field("read_at", "datetime", "Read on", "Lu le", readonly),
		field("failed_at", "datetime", "Failed on", "Échec le", readonly),
		field("raw_payload", "text", "Raw payload", "Payload brut", readonly),
		field("raw_response", "text", "Raw API response", "Réponse brute API", readonly),
		many2one("discuss_message_id", "mail.message", "set null", "Discuss message", "Message Discuss", readonly),
		field("discuss_shown", "char", "Status shown in Discuss", "Statut affiché dans Discuss", readonly),
	},
}

var buttonActionModel = Model{
	Name: "whatsapp.button.action", LabelEN: "WhatsApp Button Action", LabelFR: "Action à exécuter lors d'un clic sur un bouton WhatsApp",
	Order: "sequence, id", Info: "What the sidecar does when a customer clicks a WhatsApp button.",
	Fields: []Field{
		field("name", "char", "Action name", "Nom de l'action", required),
		field("button_id", "char", "Button ID", "ID du bouton", required, indexed,
			help("The clicked button's id, or a prefix such as btn_validate_order_.", "L'ID du bouton cliqué, ou un préfixe comme btn_validate_order_.")),
		field("match_mode", "char", "Match", "Correspondance",
			help("exact or prefix.", "exact ou prefix.")),
		selection("action_type", "Action type", "Type d'action", []Option{
			{"send_message", "Send a message", "Envoyer un message"},
			{"update_contact", "Update the contact", "Mettre à jour le contact"},
			{"create_ticket", "Create a ticket", "Créer un ticket"},
			{"update_status", "Update the status", "Mettre à jour le statut"},
			{"validate_order", "Confirm the order", "Valider la commande"},
			{"cancel_order", "Cancel the order", "Annuler la commande"},
			{"order_details", "Send the order details", "Envoyer le détail de la commande"},
			{"invoice_pdf", "Send the invoice PDF", "Envoyer la facture PDF"},
			{"payment_wave", "Send the Wave payment details", "Envoyer le paiement Wave"},
			{"payment_orange", "Send the Orange Money payment details", "Envoyer le paiement Orange Money"},
			{"payment_details", "Send the payment details", "Envoyer les détails de paiement"},
			{"odoo_method", "Call an Odoo method", "Appeler une méthode Odoo"},
			{"http_callback", "Call a URL (signed JSON)", "Appeler une URL (JSON signé)"},
			{"callback", "Call a URL (signed JSON, former name)", "Appeler une URL (JSON signé, ancien nom)"},
			{"custom_python", "Custom Python code (not run)", "Code Python personnalisé (non exécuté)"},
		}, required),
		field("message_to_send", "text", "Message to send", "Message à envoyer"),
		field("contact_field_to_update", "char", "Contact field to update", "Champ contact à mettre à jour"),
		field("contact_field_value", "char", "Value to set", "Valeur à définir"),
		field("odoo_model", "char", "Odoo model", "Modèle Odoo"),
		field("odoo_method", "char", "Odoo method", "Méthode Odoo"),
		field("callback_url", "char", "Callback URL", "URL de rappel"),
		field("callback_secret", "char", "Callback secret", "Secret de rappel"),
		field("python_code", "text", "Python code", "Code Python",
			help("Kept from the former module; the sidecar never runs it and reports such actions.", "Conservé de l'ancien module ; le sidecar ne l'exécute jamais et signale ces actions.")),
		many2one("config_id", "whatsapp.config", "set null", "Configuration", "Configuration"),
		field("active", "boolean", "Active", "Actif"),
		field("sequence", "integer", "Sequence", "Séquence"),
		field("description", "text", "Description", "Description"),
	},
}

var scenarioModel = Model{
	Name: "whatsapp.interactive.scenario", LabelEN: "WhatsApp Interactive Scenario", LabelFR: "Scénario de message interactif WhatsApp avec réponses automatiques",
	Order: "sequence, name", Info: "A message with up to three reply buttons and the automatic answer to each.",
	Fields: append([]Field{
		field("name", "char", "Scenario name", "Nom du scénario", required),
		field("active", "boolean", "Active", "Actif"),
		field("sequence", "integer", "Sequence", "Séquence"),
		field("description", "text", "Description", "Description"),
		field("initial_message", "text", "Initial message", "Message initial", required),
		many2one("config_id", "whatsapp.config", "set null", "Configuration", "Configuration"),
	}, append(append(scenarioButton("1"), scenarioButton("2")...), scenarioButton("3")...)...),
}

func scenarioButton(n string) []Field {
	return []Field{
		field("button_"+n+"_id", "char", "Button "+n+" ID", "ID Bouton "+n),
		field("button_"+n+"_title", "char", "Button "+n+" title", "Titre Bouton "+n,
			help("At most 20 characters (WhatsApp's limit).", "20 caractères au plus (limite de WhatsApp).")),
		field("button_"+n+"_response", "text", "Button "+n+" automatic answer", "Réponse automatique Bouton "+n),
		field("button_"+n+"_send_interactive", "boolean", "Button "+n+": send an interactive message", "Bouton "+n+" : Envoyer un message interactif"),
		many2one("button_"+n+"_next_scenario_id", "whatsapp.interactive.scenario", "set null", "Button "+n+" next scenario", "Scénario suivant Bouton "+n),
	}
}
