-- What the notification pipeline needs beyond the seed's columns.

-- Template sync on request: Odoo's "Synchroniser les templates" action writes
-- template_sync_requested_at through the ORM; the sidecar syncs when it is newer than
-- templates_synced_at (the config trigger wakes it).
ALTER TABLE public.whatsapp_config
    ADD COLUMN IF NOT EXISTS template_sync_requested_at timestamp without time zone,
    ADD COLUMN IF NOT EXISTS templates_synced_at timestamp without time zone;
