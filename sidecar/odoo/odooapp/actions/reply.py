# "Répondre" on an inbound message: open a draft answer in the same conversation,
# to the same number. Action > Envoyer queues it once written.
fr = (env.lang or 'fr_FR')[:2] == 'fr'
Message = env['whatsapp.message']
drafts = Message
for message in (records or record):
    if message.direction != 'in':
        raise UserError(fr and 'On ne répond qu\'aux messages entrants.' or 'Only inbound messages can be answered.')
    drafts |= Message.create({
        'direction': 'out',
        'status': 'draft',
        'message_type': 'text',
        'phone': message.phone,
        'contact_id': message.contact_id.id,
        'contact_name': message.contact_name,
        'conversation_id': message.conversation_id.id,
        'config_id': message.config_id.id,
        'reply_to_wa_message_id': message.wa_message_id,
    })
action = {
    'type': 'ir.actions.act_window',
    'name': fr and 'Réponse WhatsApp' or 'WhatsApp answer',
    'res_model': 'whatsapp.message',
    'target': 'current',
}
if len(drafts) == 1:
    action.update({'view_mode': 'form', 'res_id': drafts.id})
else:
    action.update({'view_mode': 'tree,form', 'domain': [('id', 'in', drafts.ids)]})
