# "Envoyer" on messages: queue the selected drafts; the sidecar sends every queued
# row. A draft needs a text (or is a scenario) and a recipient.
fr = (env.lang or 'fr_FR')[:2] == 'fr'
ready = env['whatsapp.message']
for message in (records or record):
    if message.status != 'draft' or message.direction != 'out':
        raise UserError((fr and "%s n'est pas un brouillon : il ne peut pas être envoyé à nouveau." or '%s is not a draft: it cannot be sent again.') % message.display_name)
    if not ((message.content or '').strip() or message.kind):
        raise UserError(fr and 'Écrivez le message avant de l\'envoyer.' or 'Write the message before sending it.')
    if not (message.phone or message.contact_id.mobile or message.contact_id.phone):
        raise UserError(fr and 'Choisissez un contact qui a un mobile, ou saisissez un numéro.' or 'Choose a contact with a mobile number, or type a number.')
    if message.contact_id.x_whatsapp_opt_out:
        raise UserError((fr and "%s s'est désinscrit de WhatsApp." or '%s opted out of WhatsApp.') % message.contact_id.display_name)
    ready |= message
ready.write({'status': 'queued'})
action = {
    'type': 'ir.actions.client',
    'tag': 'display_notification',
    'params': {
        'title': 'WhatsApp',
        'message': (fr and "%d message(s) en file d'envoi." or '%d message(s) queued.') % len(ready),
        'type': 'success',
        'sticky': False,
        'next': {'type': 'ir.actions.act_window_close'},
    },
}
