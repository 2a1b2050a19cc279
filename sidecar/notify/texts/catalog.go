package texts

// catalog holds the built-in texts by key and language. Keys are the message kinds
// of whatsapp_message.kind, button titles (button_*) and replies to clicks (reply_*).
// Button titles stay within Meta's 20 characters.
var catalog = map[string]map[Lang]string{
	// Notifications.
	"order_created": {
		French:  "Bonjour {partner_name},\n\nVotre commande {order_name} d'un montant de {amount_total} a été créée avec succès.\n\nValidez-la ou annulez-la avec les boutons ci-dessous.\n\n{company_name}",
		English: "Hello {partner_name},\n\nYour order {order_name} for {amount_total} has been created.\n\nConfirm or cancel it with the buttons below.\n\n{company_name}",
	},
	"order_summary": {
		French:  "Bonjour {partner_name},\n\nVoici votre commande {order_name} : {amount_total}.\n\nValidez-la ou annulez-la avec les boutons ci-dessous.\n\n{company_name}",
		English: "Hello {partner_name},\n\nHere is your order {order_name}: {amount_total}.\n\nConfirm or cancel it with the buttons below.\n\n{company_name}",
	},
	"order_summary_confirmed": {
		French:  "Bonjour {partner_name},\n\nVoici votre commande {order_name} : {amount_total}. Elle est confirmée.\n\n{company_name}",
		English: "Hello {partner_name},\n\nHere is your order {order_name}: {amount_total}. It is confirmed.\n\n{company_name}",
	},
	"order_summary_cancelled": {
		French:  "Bonjour {partner_name},\n\nVotre commande {order_name} ({amount_total}) a été annulée.\n\n{company_name}",
		English: "Hello {partner_name},\n\nYour order {order_name} ({amount_total}) was cancelled.\n\n{company_name}",
	},
	"order_confirmed": {
		French:  "Bonjour {partner_name},\n\nVotre commande {order_name} est confirmée.\nMontant : {amount_total}\n\nMerci pour votre confiance.\n\n{company_name}",
		English: "Hello {partner_name},\n\nYour order {order_name} is confirmed.\nAmount: {amount_total}\n\nThank you for your trust.\n\n{company_name}",
	},
	"order_cancelled": {
		French:  "Bonjour {partner_name},\n\nVotre commande {order_name} a été annulée.\n\n{company_name}",
		English: "Hello {partner_name},\n\nYour order {order_name} has been cancelled.\n\n{company_name}",
	},
	"order_details": {
		French:  "📋 Détails de la commande {order_name}\n\n{lines}\n──────────\nSous-total : {amount_untaxed}\nTVA : {amount_tax}\nTotal : {amount_total}",
		English: "📋 Order {order_name}\n\n{lines}\n──────────\nSubtotal: {amount_untaxed}\nTax: {amount_tax}\nTotal: {amount_total}",
	},
	"order_line": {
		French:  "• {product}\n  Qté : {quantity} × {price_unit} = {subtotal}",
		English: "• {product}\n  Qty: {quantity} × {price_unit} = {subtotal}",
	},
	"order_no_lines": {
		French:  "(aucun article)",
		English: "(no items)",
	},
	"invoice_posted": {
		French:  "Votre facture {invoice_name} d'un montant de {amount_total}, à régler avant le {due_date}.",
		English: "Your invoice {invoice_name} for {amount_total}, due on {due_date}.",
	},
	"refund_posted": {
		French:  "Votre avoir {invoice_name} d'un montant de {amount_total}.",
		English: "Your credit note {invoice_name} for {amount_total}.",
	},
	"invoice_buttons": {
		French:  "Bonjour {partner_name},\n\nVotre facture {invoice_name} ({amount_total}) est disponible. Vous pouvez la régler ou la télécharger ci-dessous.\n\n{company_name}",
		English: "Hello {partner_name},\n\nYour invoice {invoice_name} ({amount_total}) is ready. You can pay or download it below.\n\n{company_name}",
	},
	"invoice_residual": {
		French:  "Bonjour {partner_name},\n\nNous avons bien reçu votre paiement de {amount_paid} pour la facture {invoice_name}.\nMontant restant à payer : {amount_residual}\n\n{company_name}",
		English: "Hello {partner_name},\n\nWe received your payment of {amount_paid} for invoice {invoice_name}.\nAmount left to pay: {amount_residual}\n\n{company_name}",
	},
	"invoice_paid": {
		French:  "Bonjour {partner_name},\n\nVotre facture {invoice_name} ({amount_total}) est entièrement payée. Merci !\n\n{company_name}",
		English: "Hello {partner_name},\n\nYour invoice {invoice_name} ({amount_total}) is paid in full. Thank you!\n\n{company_name}",
	},
	"invoice_reminder": {
		French:  "Bonjour {partner_name},\n\nRappel : la facture {invoice_name} était à régler le {due_date}. Il reste {amount_residual} à payer.\n\nMerci de procéder au règlement.\n\n{company_name}",
		English: "Hello {partner_name},\n\nReminder: invoice {invoice_name} was due on {due_date}. {amount_residual} is left to pay.\n\nPlease proceed with the payment.\n\n{company_name}",
	},
	"invoice_pdf": {
		French:  "Votre facture {invoice_name}",
		English: "Your invoice {invoice_name}",
	},

	// Reply buttons (Meta: 20 characters at most).
	"button_validate":   {French: "Valider", English: "Confirm"},
	"button_cancel":     {French: "Annuler", English: "Cancel"},
	"button_details":    {French: "Voir détail", English: "View details"},
	"button_pay_wave":   {French: "Payer avec Wave", English: "Pay with Wave"},
	"button_pay_orange": {French: "Payer Orange Money", English: "Pay Orange Money"},
	"button_download":   {French: "Télécharger", English: "Download"},

	// Replies to clicks and keywords.
	"reply_order_validated": {
		French:  "✅ Merci {partner_name} ! Votre commande {order_name} ({amount_total}) est confirmée.",
		English: "✅ Thank you {partner_name}! Your order {order_name} ({amount_total}) is confirmed.",
	},
	"reply_order_cancelled": {
		French:  "Votre commande {order_name} a été annulée, comme demandé.",
		English: "Your order {order_name} has been cancelled, as requested.",
	},
	"reply_order_already_confirmed": {
		French:  "Votre commande {order_name} est déjà confirmée.",
		English: "Your order {order_name} is already confirmed.",
	},
	"reply_order_already_cancelled": {
		French:  "Votre commande {order_name} est déjà annulée.",
		English: "Your order {order_name} is already cancelled.",
	},
	"reply_order_not_cancellable": {
		French:  "Votre commande {order_name} est déjà confirmée et ne peut plus être annulée ici. Contactez-nous pour toute modification.",
		English: "Your order {order_name} is already confirmed and can no longer be cancelled here. Contact us to change it.",
	},
	"reply_record_not_found": {
		French:  "Désolé, nous ne retrouvons pas ce document. Contactez-nous si besoin.",
		English: "Sorry, we cannot find this document. Please contact us.",
	},
	"reply_payment_wave": {
		French:  "Pour régler la facture {invoice_name} ({amount_residual}) avec Wave : {payment_link}",
		English: "To pay invoice {invoice_name} ({amount_residual}) with Wave: {payment_link}",
	},
	"reply_payment_orange": {
		French:  "Pour régler la facture {invoice_name} ({amount_residual}) avec Orange Money : {payment_link}",
		English: "To pay invoice {invoice_name} ({amount_residual}) with Orange Money: {payment_link}",
	},
	"reply_invoice_already_paid": {
		French:  "La facture {invoice_name} est déjà entièrement payée. Merci !",
		English: "Invoice {invoice_name} is already paid in full. Thank you!",
	},
	"reply_opt_out": {
		French:  "Vous ne recevrez plus de messages WhatsApp de notre part. Envoyez START pour vous réabonner.",
		English: "You will no longer receive WhatsApp messages from us. Send START to subscribe again.",
	},
	"reply_opt_in": {
		French:  "C'est noté : vous recevrez à nouveau nos messages WhatsApp.",
		English: "Done: you will receive our WhatsApp messages again.",
	},
}
