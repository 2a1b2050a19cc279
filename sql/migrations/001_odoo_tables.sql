-- The Odoo-visible tables of the seed module (api_whatsapp), shaped as Odoo 16's ORM
-- creates tables for its models: id serial, the four magic columns with their FKs to
-- res_users, Char -> varchar, Text -> text, Boolean -> boolean, Integer/Many2one -> int4,
-- Datetime -> timestamp without time zone (UTC), Selection -> varchar, NOT NULL only on
-- required fields, FKs with the ON DELETE of the field. So `odoo -u all` finds nothing
-- to change, and the seed's Python module could read the same rows.
--
-- Every statement is idempotent: `uninstall` keeps these tables (and their data) unless
-- asked to drop them, and a later `migrate` must accept them as they are.

CREATE TABLE IF NOT EXISTS public.whatsapp_template (
    id serial PRIMARY KEY,
    name varchar NOT NULL,
    wa_name varchar NOT NULL,
    language_code varchar,
    category varchar,
    status varchar,
    description text,
    parameter_structure text,
    -- added by the sidecar
    config_id integer,
    components text,
    parameter_format varchar,
    meta_template_id varchar,
    notification_kind varchar,
    last_synced_at timestamp without time zone,
    create_uid integer REFERENCES public.res_users(id) ON DELETE SET NULL,
    create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'utc'),
    write_uid integer REFERENCES public.res_users(id) ON DELETE SET NULL,
    write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'utc')
);
COMMENT ON TABLE public.whatsapp_template IS 'Template WhatsApp (référence Odoo)';

CREATE TABLE IF NOT EXISTS public.whatsapp_config (
    id serial PRIMARY KEY,
    name varchar NOT NULL,
    facebook_app_id varchar,
    facebook_app_secret varchar,
    whatsapp_business_account_id varchar,
    phone_number_id varchar NOT NULL,
    access_token varchar,
    verify_token varchar,
    webhook_url varchar,
    is_active boolean,
    auto_send_order_creation boolean,
    auto_send_unpaid_invoices boolean,
    unpaid_invoice_days integer NOT NULL DEFAULT 7,
    show_button_in_invoice boolean,
    show_button_in_order boolean,
    show_button_in_partner boolean,
    template_invoice_id integer REFERENCES public.whatsapp_template(id) ON DELETE SET NULL,
    -- added by the sidecar: multi-account, notification switches and texts
    company_id integer REFERENCES public.res_company(id) ON DELETE SET NULL,
    default_country_code varchar,
    lang varchar,
    auto_send_order_state boolean,
    auto_send_invoice boolean,
    auto_send_invoice_residual boolean,
    unpaid_reminder_interval_days integer,
    unpaid_reminder_max_count integer,
    rate_limit_per_second integer,
    payment_wave_enabled boolean,
    payment_wave_text text,
    payment_orange_enabled boolean,
    payment_orange_text text,
    opt_out_keywords varchar,
    opt_in_keywords varchar,
    text_order_created text,
    text_order_confirmed text,
    text_order_cancelled text,
    text_invoice_posted text,
    text_invoice_residual text,
    text_invoice_paid text,
    text_invoice_reminder text,
    create_uid integer REFERENCES public.res_users(id) ON DELETE SET NULL,
    create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'utc'),
    write_uid integer REFERENCES public.res_users(id) ON DELETE SET NULL,
    write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'utc')
);
COMMENT ON TABLE public.whatsapp_config IS 'Configuration WhatsApp Business';

-- The template's config is known only now that whatsapp_config exists.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'whatsapp_template_config_id_fkey') THEN
        ALTER TABLE public.whatsapp_template ADD CONSTRAINT whatsapp_template_config_id_fkey
            FOREIGN KEY (config_id) REFERENCES public.whatsapp_config(id) ON DELETE SET NULL;
    END IF;
END $$;

CREATE TABLE IF NOT EXISTS public.whatsapp_conversation (
    id serial PRIMARY KEY,
    name varchar NOT NULL,
    phone varchar,
    contact_id integer REFERENCES public.res_partner(id) ON DELETE SET NULL,
    contact_name varchar,
    -- added by the sidecar
    wa_id varchar,
    config_id integer REFERENCES public.whatsapp_config(id) ON DELETE SET NULL,
    last_inbound_at timestamp without time zone,
    last_message_at timestamp without time zone,
    create_uid integer REFERENCES public.res_users(id) ON DELETE SET NULL,
    create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'utc'),
    write_uid integer REFERENCES public.res_users(id) ON DELETE SET NULL,
    write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'utc')
);
COMMENT ON TABLE public.whatsapp_conversation IS 'Conversation WhatsApp';

-- One conversation per (account, customer); config_id may be NULL on rows made by hand.
CREATE UNIQUE INDEX IF NOT EXISTS whatsapp_conversation_config_wa_id_uniq
    ON public.whatsapp_conversation (COALESCE(config_id, 0), wa_id) WHERE wa_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS whatsapp_conversation_contact_id_index
    ON public.whatsapp_conversation (contact_id);

CREATE TABLE IF NOT EXISTS public.whatsapp_message (
    id serial PRIMARY KEY,
    direction varchar NOT NULL DEFAULT 'out',
    config_id integer REFERENCES public.whatsapp_config(id) ON DELETE SET NULL,
    conversation_id integer REFERENCES public.whatsapp_conversation(id) ON DELETE SET NULL,
    wa_message_id varchar,
    wa_conversation_id varchar,
    wa_status varchar,
    phone varchar,
    contact_id integer REFERENCES public.res_partner(id) ON DELETE SET NULL,
    contact_name varchar,
    content text,
    message_type varchar DEFAULT 'text',
    status varchar DEFAULT 'queued',
    media_id varchar,
    media_url varchar,
    media_mime_type varchar,
    caption varchar,
    template_name varchar,
    template_language varchar,
    template_components text,
    raw_payload text,
    raw_response text,
    -- added by the sidecar: what the message is about, delivery tracking, errors
    res_model varchar,
    res_id integer,
    kind varchar,
    dedup_key varchar,
    buttons text,
    reply_to_wa_message_id varchar,
    attachment_id integer REFERENCES public.ir_attachment(id) ON DELETE SET NULL,
    error_code integer,
    error_message text,
    attempts integer DEFAULT 0,
    next_attempt_at timestamp without time zone,
    sent_at timestamp without time zone,
    delivered_at timestamp without time zone,
    read_at timestamp without time zone,
    failed_at timestamp without time zone,
    create_uid integer REFERENCES public.res_users(id) ON DELETE SET NULL,
    create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'utc'),
    write_uid integer REFERENCES public.res_users(id) ON DELETE SET NULL,
    write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'utc')
);
COMMENT ON TABLE public.whatsapp_message IS 'Journal des messages WhatsApp';

CREATE UNIQUE INDEX IF NOT EXISTS whatsapp_message_wa_message_id_uniq
    ON public.whatsapp_message (wa_message_id) WHERE wa_message_id IS NOT NULL;
-- The same notification for the same record twice makes one message.
CREATE UNIQUE INDEX IF NOT EXISTS whatsapp_message_dedup_uniq
    ON public.whatsapp_message (res_model, res_id, kind, dedup_key) WHERE dedup_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS whatsapp_message_res_index
    ON public.whatsapp_message (res_model, res_id, kind);
-- The sender's queue: only the few rows still to send are in this index.
CREATE INDEX IF NOT EXISTS whatsapp_message_pending_index
    ON public.whatsapp_message (next_attempt_at NULLS FIRST, id) WHERE status IN ('queued', 'sending');
CREATE INDEX IF NOT EXISTS whatsapp_message_conversation_id_index
    ON public.whatsapp_message (conversation_id);
CREATE INDEX IF NOT EXISTS whatsapp_message_contact_id_index
    ON public.whatsapp_message (contact_id);
CREATE INDEX IF NOT EXISTS whatsapp_message_create_date_index
    ON public.whatsapp_message (create_date);

CREATE TABLE IF NOT EXISTS public.whatsapp_button_action (
    id serial PRIMARY KEY,
    name varchar NOT NULL,
    button_id varchar NOT NULL,
    action_type varchar NOT NULL,
    message_to_send text,
    contact_field_to_update varchar,
    contact_field_value varchar,
    python_code text,
    active boolean,
    sequence integer,
    description text,
    -- added by the sidecar
    match_mode varchar,
    odoo_model varchar,
    odoo_method varchar,
    callback_url varchar,
    callback_secret varchar,
    config_id integer REFERENCES public.whatsapp_config(id) ON DELETE SET NULL,
    create_uid integer REFERENCES public.res_users(id) ON DELETE SET NULL,
    create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'utc'),
    write_uid integer REFERENCES public.res_users(id) ON DELETE SET NULL,
    write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'utc')
);
COMMENT ON TABLE public.whatsapp_button_action IS 'Action à exécuter lors d''un clic sur un bouton WhatsApp';
CREATE INDEX IF NOT EXISTS whatsapp_button_action_button_id_index
    ON public.whatsapp_button_action (button_id);

CREATE TABLE IF NOT EXISTS public.whatsapp_interactive_scenario (
    id serial PRIMARY KEY,
    name varchar NOT NULL,
    active boolean,
    sequence integer,
    description text,
    initial_message text NOT NULL,
    button_1_id varchar,
    button_1_title varchar,
    button_1_response text,
    button_1_send_interactive boolean,
    button_1_next_scenario_id integer REFERENCES public.whatsapp_interactive_scenario(id) ON DELETE SET NULL,
    button_2_id varchar,
    button_2_title varchar,
    button_2_response text,
    button_2_send_interactive boolean,
    button_2_next_scenario_id integer REFERENCES public.whatsapp_interactive_scenario(id) ON DELETE SET NULL,
    button_3_id varchar,
    button_3_title varchar,
    button_3_response text,
    button_3_send_interactive boolean,
    button_3_next_scenario_id integer REFERENCES public.whatsapp_interactive_scenario(id) ON DELETE SET NULL,
    config_id integer REFERENCES public.whatsapp_config(id) ON DELETE SET NULL,
    create_uid integer REFERENCES public.res_users(id) ON DELETE SET NULL,
    create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'utc'),
    write_uid integer REFERENCES public.res_users(id) ON DELETE SET NULL,
    write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'utc')
);
COMMENT ON TABLE public.whatsapp_interactive_scenario IS 'Scénario de message interactif WhatsApp avec réponses automatiques';
