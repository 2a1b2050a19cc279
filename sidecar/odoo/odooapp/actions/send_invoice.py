# "Envoyer par WhatsApp" on invoices: queue the PDF of each selected posted customer
# invoice or credit note. The sidecar finds or renders the PDF, uploads it to Meta and
# sends it as a document to the customer's mobile, else phone.
fr = (env.lang or 'fr_FR')[:2] == 'fr'
Message = env['whatsapp.message']
queued = Message
skipped = []
for move in (records or record):
    partner = move.partner_id
    if move.move_type not in ('out_invoice', 'out_refund') or move.state != 'posted':
        skipped.append((fr and "%s : seules les factures clients validées s'envoient" or "%s: only posted customer invoices can be sent") % move.display_name)
    elif partner.x_whatsapp_opt_out:
        skipped.append((fr and "%s : %s s'est désinscrit de WhatsApp" or "%s: %s opted out of WhatsApp") % (move.name, partner.display_name))
    elif not (partner.mobile or partner.phone):
        skipped.append((fr and "%s : %s n'a ni mobile ni téléphone" or "%s: %s has no mobile or phone number") % (move.name, partner.display_name))
    else:
        queued |= Message.create({
            'direction': 'out',
            'status': 'queued',
            'message_type': 'document',
            'kind': 'invoice_pdf',
            'res_model': 'account.move',
            'res_id': move.id,
            'contact_id': partner.id,
            'contact_name': partner.display_name,
        })
if skipped and not queued:
    raise UserError('\n'.join(skipped))
text = (fr and "%d facture(s) en file d'envoi WhatsApp." or "%d invoice(s) queued for WhatsApp.") % len(queued)
if skipped:
    text += '\n' + (fr and 'Non envoyées : ' or 'Not sent: ') + '; '.join(skipped)
action = {
    'type': 'ir.actions.client',
    'tag': 'display_notification',
    'params': {'title': 'WhatsApp', 'message': text, 'type': skipped and 'warning' or 'success', 'sticky': bool(skipped)},
}
