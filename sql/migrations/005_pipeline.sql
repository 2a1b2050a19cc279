-- What the notification pipeline needs beyond the seed's columns.

-- Template sync on request: Odoo's "Synchroniser les templates" action writes
-- template_sync_requested_at through the ORM; the sidecar syncs when it is newer than
-- templates_synced_at (the config trigger wakes it).
ALTER TABLE public.whatsapp_config
    ADD COLUMN IF NOT EXISTS template_sync_requested_at timestamp without time zone,
    ADD COLUMN IF NOT EXISTS templates_synced_at timestamp without time zone;

-- The values a notification's text was rendered from (JSON object), kept so the
-- sender can fill an approved template with them when the 24-hour window is closed.
ALTER TABLE public.whatsapp_message
    ADD COLUMN IF NOT EXISTS params text;

-- The notifications the seed module sent unconditionally get a switch each, on by
-- default (for rows Odoo's ORM creates, and for rows that existed before).
ALTER TABLE public.whatsapp_config
    ALTER COLUMN auto_send_order_state SET DEFAULT true,
    ALTER COLUMN auto_send_invoice SET DEFAULT true,
    ALTER COLUMN auto_send_invoice_residual SET DEFAULT true,
    ALTER COLUMN is_active SET DEFAULT true,
    ALTER COLUMN lang SET DEFAULT 'fr',
    ALTER COLUMN unpaid_reminder_interval_days SET DEFAULT 7,
    ALTER COLUMN unpaid_reminder_max_count SET DEFAULT 3,
    ALTER COLUMN rate_limit_per_second SET DEFAULT 80,
    ALTER COLUMN payment_wave_enabled SET DEFAULT true,
    ALTER COLUMN payment_orange_enabled SET DEFAULT true;
UPDATE public.whatsapp_config SET auto_send_order_state = true WHERE auto_send_order_state IS NULL;
UPDATE public.whatsapp_config SET auto_send_invoice = true WHERE auto_send_invoice IS NULL;
UPDATE public.whatsapp_config SET auto_send_invoice_residual = true WHERE auto_send_invoice_residual IS NULL;

-- Template sync upserts by (account, Meta name, language).
CREATE UNIQUE INDEX IF NOT EXISTS whatsapp_template_config_name_lang_uniq
    ON public.whatsapp_template (COALESCE(config_id, 0), wa_name, COALESCE(language_code, ''));
