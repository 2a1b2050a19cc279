# "Envoyer le scénario": open a draft that carries the scenario (its initial message
# and buttons, rendered by the sidecar); the user picks the contact or number, then
# Action > Envoyer queues it.
fr = (env.lang or 'fr_FR')[:2] == 'fr'
scenario = (records or record)[:1]
if not scenario:
    raise UserError(fr and 'Sélectionnez un scénario.' or 'Select a scenario.')
if not any(scenario['button_%d_id' % n] and scenario['button_%d_title' % n] for n in (1, 2, 3)):
    raise UserError(fr and 'Ce scénario n\'a aucun bouton (ID et titre).' or 'This scenario has no button (id and title).')
draft = env['whatsapp.message'].create({
    'direction': 'out',
    'status': 'draft',
    'message_type': 'interactive',
    'kind': 'scenario',
    'res_model': 'whatsapp.interactive.scenario',
    'res_id': scenario.id,
    'config_id': scenario.config_id.id,
})
action = {
    'type': 'ir.actions.act_window',
    'name': scenario.display_name,
    'res_model': 'whatsapp.message',
    'view_mode': 'form',
    'res_id': draft.id,
    'target': 'current',
}
