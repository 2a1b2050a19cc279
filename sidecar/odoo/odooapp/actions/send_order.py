# "Envoyer par WhatsApp" on sale orders: queue the order summary of each selected
# order. The sidecar renders it (text with Valider / Annuler / Voir détail buttons)
# for the customer's mobile, else phone, and sends it.
fr = (env.lang or 'fr_FR')[:2] == 'fr'
Message = env['whatsapp.message']
queued = Message
skipped = []
for order in (records or record):
    partner = order.partner_id
    if partner.x_whatsapp_opt_out:
        skipped.append((fr and "%s : %s s'est désinscrit de WhatsApp" or "%s: %s opted out of WhatsApp") % (order.name, partner.display_name))
    elif not (partner.mobile or partner.phone):
        skipped.append((fr and "%s : %s n'a ni mobile ni téléphone" or "%s: %s has no mobile or phone number") % (order.name, partner.display_name))
    else:
        queued |= Message.create({
            'direction': 'out',
            'status': 'queued',
            'message_type': 'interactive',
            'kind': 'order_summary',
            'res_model': 'sale.order',
            'res_id': order.id,
            'contact_id': partner.id,
            'contact_name': partner.display_name,
        })
if skipped and not queued:
    raise UserError('\n'.join(skipped))
text = (fr and "%d commande(s) en file d'envoi WhatsApp." or "%d order(s) queued for WhatsApp.") % len(queued)
if skipped:
    text += '\n' + (fr and 'Non envoyées : ' or 'Not sent: ') + '; '.join(skipped)
action = {
    'type': 'ir.actions.client',
    'tag': 'display_notification',
    'params': {'title': 'WhatsApp', 'message': text, 'type': skipped and 'warning' or 'success', 'sticky': bool(skipped)},
}
