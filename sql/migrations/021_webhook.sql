-- What receiving (the webhook inbox processor) needs beyond the seed's columns.

-- An opt-out ("STOP") from a number no partner has yet is remembered on its
-- conversation, so the confirmation is sent once, and Odoo users see it.
ALTER TABLE public.whatsapp_conversation
    ADD COLUMN IF NOT EXISTS opt_out boolean,
    ADD COLUMN IF NOT EXISTS opt_out_date timestamp without time zone;

-- One claim per inbound message (wamid), taken before its button action calls Odoo
-- or a callback URL and marked done in the transaction that records the message: Meta
-- delivers the same message more than once, sometimes to two replicas at the same
-- time, and a click must run once. A claim whose lease ended without being done (its
-- processor died) may be taken again. Done claims are purged after Meta's retry window.
CREATE TABLE IF NOT EXISTS whatsapp_sidecar.inbound (
    wa_message_id text PRIMARY KEY,
    lease_until timestamptz NOT NULL,
    attempts integer NOT NULL DEFAULT 1,
    done_at timestamptz
);
CREATE INDEX IF NOT EXISTS inbound_done_idx ON whatsapp_sidecar.inbound (done_at) WHERE done_at IS NOT NULL;

-- Processed deliveries are kept a while (audit, replay), then purged by age.
CREATE INDEX IF NOT EXISTS inbox_processed_idx ON whatsapp_sidecar.inbox (processed_at) WHERE processed_at IS NOT NULL;
