package odooapp

// FlagFields are the x_whatsapp_* columns that migration 002 adds to Odoo's own
// tables, registered as manual fields so Odoo shows and filters them. Each is
// registered only once its column exists.
var FlagFields = []Field{
	flag("sale.order", "x_whatsapp_creation_sent", "boolean", "WhatsApp creation message sent", "Message de création WhatsApp envoyé"),
	flag("sale.order", "x_whatsapp_creation_sent_date", "datetime", "WhatsApp creation message date", "Date envoi message création WhatsApp"),
	flag("sale.order", "x_whatsapp_state_sent", "boolean", "WhatsApp state message sent", "Message d'état WhatsApp envoyé"),
	flag("sale.order", "x_whatsapp_state_sent_date", "datetime", "WhatsApp state message date", "Date envoi message d'état WhatsApp"),
	flag("sale.order", "x_whatsapp_details_sent", "boolean", "WhatsApp order details sent", "Détails commande WhatsApp envoyés"),
	flag("sale.order", "x_whatsapp_details_sent_date", "datetime", "WhatsApp order details date", "Date envoi détails WhatsApp"),
	flag("sale.order", "x_whatsapp_validation_sent", "boolean", "WhatsApp validation request sent", "Validation WhatsApp envoyée"),
	flag("sale.order", "x_whatsapp_validation_sent_date", "datetime", "WhatsApp validation request date", "Date envoi validation WhatsApp"),
	flag("sale.order", "x_whatsapp_validated", "boolean", "Validated on WhatsApp", "Validée via WhatsApp"),
	flag("sale.order", "x_whatsapp_rejected", "boolean", "Rejected on WhatsApp", "Rejetée via WhatsApp"),
	flag("account.move", "x_whatsapp_invoice_sent", "boolean", "WhatsApp invoice sent", "Facture envoyée par WhatsApp"),
	flag("account.move", "x_whatsapp_invoice_sent_date", "datetime", "WhatsApp invoice date", "Date envoi facture WhatsApp"),
	flag("account.move", "x_whatsapp_residual_sent", "boolean", "WhatsApp balance message sent", "Message résiduel WhatsApp envoyé"),
	flag("account.move", "x_whatsapp_residual_sent_date", "datetime", "WhatsApp balance message date", "Date envoi message résiduel WhatsApp"),
	flag("account.move", "x_whatsapp_validation_sent", "boolean", "WhatsApp validation request sent", "Validation WhatsApp envoyée"),
	flag("account.move", "x_whatsapp_validation_sent_date", "datetime", "WhatsApp validation request date", "Date envoi validation WhatsApp"),
	flag("account.move", "x_whatsapp_auto_send_attempted", "boolean", "WhatsApp automatic send attempted", "Envoi automatique WhatsApp tenté"),
	flag("account.move", "x_whatsapp_unpaid_reminder_sent", "boolean", "WhatsApp unpaid reminder sent", "Rappel impayé WhatsApp envoyé"),
	flag("account.move", "x_whatsapp_unpaid_reminder_sent_date", "datetime", "WhatsApp last unpaid reminder date", "Date dernier rappel impayé WhatsApp"),
	flag("account.move", "x_whatsapp_unpaid_reminder_count", "integer", "WhatsApp unpaid reminders sent", "Nombre de rappels impayés WhatsApp"),
	flag("res.partner", "x_whatsapp_opt_out", "boolean", "WhatsApp opt-out", "Désinscrit de WhatsApp"),
	flag("res.partner", "x_whatsapp_opt_out_date", "datetime", "WhatsApp opt-out date", "Date de désinscription WhatsApp"),
}

func flag(model, name, ttype, en, fr string) Field {
	return Field{Model: model, Name: name, Type: ttype, LabelEN: en, LabelFR: fr}
}
