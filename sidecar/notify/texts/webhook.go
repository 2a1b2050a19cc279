package texts

// The texts of receiving: replies to clicks the catalog does not hold yet, and the
// chatter notes Odoo users read on orders, invoices and partners (note_*).
func init() {
	for key, text := range map[string]map[Lang]string{
		"reply_order_confirm_failed": {
			French:  "Nous n'avons pas pu confirmer votre commande {order_name} pour le moment. Notre équipe vous recontacte rapidement.",
			English: "We could not confirm your order {order_name} right now. Our team will get back to you shortly.",
		},
		"reply_order_cancel_failed": {
			French:  "Nous n'avons pas pu annuler votre commande {order_name} pour le moment. Notre équipe vous recontacte rapidement.",
			English: "We could not cancel your order {order_name} right now. Our team will get back to you shortly.",
		},
		"reply_payment_unavailable": {
			French:  "Le paiement par {provider} n'est pas encore disponible. Contactez-nous pour régler la facture {invoice_name} ({amount_residual}).",
			English: "Payment with {provider} is not available yet. Please contact us to pay invoice {invoice_name} ({amount_residual}).",
		},

		"note_customer_reply": {
			French:  "💬 Réponse WhatsApp de {contact} ({phone}) :\n{content}",
			English: "💬 WhatsApp reply from {contact} ({phone}):\n{content}",
		},
		"note_order_confirmed": {
			French:  "✅ Commande confirmée par le client sur WhatsApp ({phone}).",
			English: "✅ Order confirmed by the customer on WhatsApp ({phone}).",
		},
		"note_order_cancelled": {
			French:  "❌ Devis annulé par le client sur WhatsApp ({phone}).",
			English: "❌ Quotation cancelled by the customer on WhatsApp ({phone}).",
		},
		"note_rules_bypassed": {
			French:  "⚠️ État écrit directement en base par le sidecar : les règles métier d'Odoo (action_{method}) n'ont pas été exécutées. Configurez ODOO_URL, ODOO_DB, ODOO_USER et ODOO_PASSWORD pour qu'Odoo les exécute.",
			English: "⚠️ State written directly in the database by the sidecar: Odoo's business rules (action_{method}) did not run. Set ODOO_URL, ODOO_DB, ODOO_USER and ODOO_PASSWORD so Odoo runs them.",
		},
		"note_action_failed": {
			French:  "⚠️ Le clic WhatsApp « {button} » de {phone} n'a pas abouti : {error}",
			English: "⚠️ The WhatsApp click \"{button}\" from {phone} did not succeed: {error}",
		},
		"note_custom_python": {
			French:  "⚠️ L'action de bouton « {action} » ({button}) est du code Python personnalisé : le sidecar ne l'exécute pas. Remplacez-la par une action intégrée, une méthode Odoo (odoo_method) ou un appel d'URL (http_callback).",
			English: "⚠️ Button action \"{action}\" ({button}) is custom Python code: the sidecar does not run it. Replace it with a built-in action, an Odoo method (odoo_method) or a URL call (http_callback).",
		},
		"note_opt_out": {
			French:  "🔕 Le client a demandé sur WhatsApp ({phone}) à ne plus recevoir de messages ({keyword}).",
			English: "🔕 The customer asked on WhatsApp ({phone}) to receive no more messages ({keyword}).",
		},
		"note_opt_in": {
			French:  "🔔 Le client a demandé sur WhatsApp ({phone}) à recevoir de nouveau les messages ({keyword}).",
			English: "🔔 The customer asked on WhatsApp ({phone}) to receive messages again ({keyword}).",
		},
		"note_delivery_failed": {
			French:  "⚠️ Message WhatsApp non délivré au {phone} : {error}",
			English: "⚠️ WhatsApp message not delivered to {phone}: {error}",
		},
	} {
		if _, exists := catalog[key]; !exists {
			catalog[key] = text
		}
	}
}
