# "Envoyer par WhatsApp" on contacts: open a draft message to each selected contact.
# The user writes it, saves, then Action > Envoyer queues it; a draft is never sent.
fr = (env.lang or 'fr_FR')[:2] == 'fr'
Message = env['whatsapp.message']
drafts = Message
skipped = []
for partner in (records or record):
    if partner.x_whatsapp_opt_out:
        skipped.append((fr and "%s s'est désinscrit de WhatsApp" or "%s opted out of WhatsApp") % partner.display_name)
    elif not (partner.mobile or partner.phone):
        skipped.append((fr and "%s n'a ni mobile ni téléphone" or "%s has no mobile or phone number") % partner.display_name)
    else:
        conversation = env['whatsapp.conversation'].search([('contact_id', '=', partner.id)], limit=1)
        drafts |= Message.create({
            'direction': 'out',
            'status': 'draft',
            'message_type': 'text',
            'contact_id': partner.id,
            'contact_name': partner.display_name,
            'conversation_id': conversation.id,
            'config_id': conversation.config_id.id,
        })
if not drafts:
    raise UserError('\n'.join(skipped) or (fr and 'Aucun contact sélectionné.' or 'No contact selected.'))
action = {
    'type': 'ir.actions.act_window',
    'name': fr and 'Message WhatsApp' or 'WhatsApp message',
    'res_model': 'whatsapp.message',
    'target': 'current',
}
if len(drafts) == 1:
    action.update({'view_mode': 'form', 'res_id': drafts.id})
else:
    action.update({'view_mode': 'tree,form', 'domain': [('id', 'in', drafts.ids)]})
