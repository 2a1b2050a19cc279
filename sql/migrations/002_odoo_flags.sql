-- The x_whatsapp_* flags on Odoo's own tables (the seed's fields, plus a reminder count
-- and the partner's opt-out). Nullable, no default: PostgreSQL adds such a column without
-- rewriting the table, so the ACCESS EXCLUSIVE lock lasts milliseconds; the migrator sets
-- lock_timeout so a long Odoo transaction makes us retry instead of queueing Odoo behind us.
-- NULL reads as False in Odoo, as for any boolean field it has never written.

ALTER TABLE public.sale_order
    ADD COLUMN IF NOT EXISTS x_whatsapp_creation_sent boolean,
    ADD COLUMN IF NOT EXISTS x_whatsapp_creation_sent_date timestamp without time zone,
    ADD COLUMN IF NOT EXISTS x_whatsapp_state_sent boolean,
    ADD COLUMN IF NOT EXISTS x_whatsapp_state_sent_date timestamp without time zone,
    ADD COLUMN IF NOT EXISTS x_whatsapp_details_sent boolean,
    ADD COLUMN IF NOT EXISTS x_whatsapp_details_sent_date timestamp without time zone,
    ADD COLUMN IF NOT EXISTS x_whatsapp_validation_sent boolean,
    ADD COLUMN IF NOT EXISTS x_whatsapp_validation_sent_date timestamp without time zone,
    ADD COLUMN IF NOT EXISTS x_whatsapp_validated boolean,
    ADD COLUMN IF NOT EXISTS x_whatsapp_rejected boolean;

ALTER TABLE public.account_move
    ADD COLUMN IF NOT EXISTS x_whatsapp_invoice_sent boolean,
    ADD COLUMN IF NOT EXISTS x_whatsapp_invoice_sent_date timestamp without time zone,
    ADD COLUMN IF NOT EXISTS x_whatsapp_residual_sent boolean,
    ADD COLUMN IF NOT EXISTS x_whatsapp_residual_sent_date timestamp without time zone,
    ADD COLUMN IF NOT EXISTS x_whatsapp_validation_sent boolean,
    ADD COLUMN IF NOT EXISTS x_whatsapp_validation_sent_date timestamp without time zone,
    ADD COLUMN IF NOT EXISTS x_whatsapp_auto_send_attempted boolean,
    ADD COLUMN IF NOT EXISTS x_whatsapp_unpaid_reminder_sent boolean,
    ADD COLUMN IF NOT EXISTS x_whatsapp_unpaid_reminder_sent_date timestamp without time zone,
    ADD COLUMN IF NOT EXISTS x_whatsapp_unpaid_reminder_count integer;

ALTER TABLE public.res_partner
    ADD COLUMN IF NOT EXISTS x_whatsapp_opt_out boolean,
    ADD COLUMN IF NOT EXISTS x_whatsapp_opt_out_date timestamp without time zone;
