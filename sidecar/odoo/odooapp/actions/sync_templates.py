# "Synchroniser les modèles": ask the sidecar to fetch this account's templates
# from Meta; it does so when template_sync_requested_at is newer than
# templates_synced_at (the config trigger wakes it at once).
fr = (env.lang or 'fr_FR')[:2] == 'fr'
configs = records or record
configs.write({'template_sync_requested_at': datetime.datetime.utcnow()})
action = {
    'type': 'ir.actions.client',
    'tag': 'display_notification',
    'params': {
        'title': 'WhatsApp',
        'message': fr and 'Synchronisation des modèles demandée : le sidecar les récupère auprès de Meta.' or 'Template sync requested: the sidecar fetches them from Meta.',
        'type': 'info',
        'sticky': False,
        'next': {'type': 'ir.actions.act_window_close'},
    },
}
