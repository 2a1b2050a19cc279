-- Claims that die with their process, and sends of unknown fate made visible.
--
-- A sender or inbox processor holds a session-level advisory lock (its owner id) on a
-- connection of its own for as long as it lives; a row it claims records that id. A
-- claim whose owner no longer holds its lock (the process died, or lost its database
-- connection) is void at once: nothing waits for a lease to expire.

-- whatsapp_message, the outbox:
--   claimed_by     the owner of a 'sending' row;
--   dispatched_at  when its request to Meta was about to leave, written by the owner
--                  before the request: a void claim without it was never sent (queued
--                  again at once), with it the request may have reached Meta
--                  (status 'unknown');
--   retry_reason   why a queued row waits (transient, pair_rate_limit, auth, account,
--                  no_credentials, shutdown): a configuration fix wakes the rows that
--                  waited for it;
--   note_pending, flags_pending   what is still to write back into Odoo about the row
--                  (the chatter note; the x_whatsapp_* flags, written only while no
--                  Odoo transaction is open, so they never make Odoo's fail).
ALTER TABLE public.whatsapp_message
    ADD COLUMN IF NOT EXISTS claimed_by integer,
    ADD COLUMN IF NOT EXISTS dispatched_at timestamp without time zone,
    ADD COLUMN IF NOT EXISTS retry_reason varchar,
    ADD COLUMN IF NOT EXISTS note_pending boolean,
    ADD COLUMN IF NOT EXISTS flags_pending boolean;

-- The sender's queue: only the rows still to send, or whose fate is unknown.
CREATE INDEX IF NOT EXISTS whatsapp_message_outbox_index
    ON public.whatsapp_message (next_attempt_at NULLS FIRST, id) WHERE status IN ('queued', 'sending', 'unknown');
DROP INDEX IF EXISTS public.whatsapp_message_pending_index;
CREATE INDEX IF NOT EXISTS whatsapp_message_note_pending_index
    ON public.whatsapp_message (id) WHERE note_pending;
CREATE INDEX IF NOT EXISTS whatsapp_message_flags_pending_index
    ON public.whatsapp_message (id) WHERE flags_pending;

-- Rows a previous version left 'sending' under a time lease: their request may have
-- reached Meta, so they wait for Meta's status webhook like any send of unknown fate.
UPDATE public.whatsapp_message SET status = 'unknown',
    error_message = 'Meta''s answer to this send was lost (the sidecar was upgraded while sending it); waiting for Meta''s status webhook',
    next_attempt_at = (now() AT TIME ZONE 'utc') + interval '15 minutes'
WHERE status = 'sending' AND claimed_by IS NULL AND direction = 'out';

-- whatsapp_sidecar.inbox: a delivery being processed is claimed by its processor.
ALTER TABLE whatsapp_sidecar.inbox ADD COLUMN IF NOT EXISTS claimed_by integer;

-- whatsapp_sidecar.inbound, one claim per inbound message (a click runs once): owned
-- like the rest, no lease.
ALTER TABLE whatsapp_sidecar.inbound ADD COLUMN IF NOT EXISTS claimed_by integer;
ALTER TABLE whatsapp_sidecar.inbound ALTER COLUMN lease_until DROP NOT NULL;

-- Deliveries a previous version claimed under a time lease are available again now.
UPDATE whatsapp_sidecar.inbox SET available_at = now()
WHERE processed_at IS NULL AND available_at > now() AND available_at <> 'infinity';
