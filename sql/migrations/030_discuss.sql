-- The WhatsApp inbox in Odoo Discuss: each conversation is a mail.channel whose members
-- are the configuration's operators; customers' messages and ours are posted there, and
-- what an operator types there is captured (a statement-level trigger on mail_message,
-- like orders) and sent to the customer.

-- The operators of a configuration: Odoo users, a many2many shaped as Odoo creates one
-- (both columns NOT NULL, cascading, primary key and the reverse index). Empty: the
-- users of the Sales team, else the administrator.
CREATE TABLE IF NOT EXISTS public.whatsapp_config_operator_rel (
    config_id integer NOT NULL REFERENCES public.whatsapp_config(id) ON DELETE CASCADE,
    user_id integer NOT NULL REFERENCES public.res_users(id) ON DELETE CASCADE,
    PRIMARY KEY (config_id, user_id)
);
CREATE INDEX IF NOT EXISTS whatsapp_config_operator_rel_user_id_config_id_idx
    ON public.whatsapp_config_operator_rel (user_id, config_id);

-- A conversation's channel, who handles it and whether it is closed. discuss_window_notice_for is the last_inbound_at whose 24-hour window the
-- channel was told has closed ('-infinity' when the customer never wrote).
ALTER TABLE public.whatsapp_conversation
    ADD COLUMN IF NOT EXISTS discuss_channel_id integer REFERENCES public.mail_channel(id) ON DELETE SET NULL,
    ADD COLUMN IF NOT EXISTS assigned_user_id integer REFERENCES public.res_users(id) ON DELETE SET NULL,
    ADD COLUMN IF NOT EXISTS state varchar,
    ADD COLUMN IF NOT EXISTS discuss_window_notice_for timestamp without time zone;
-- Open unless closed: new conversations (the webhook's, Odoo's form's) start open.
ALTER TABLE public.whatsapp_conversation ALTER COLUMN state SET DEFAULT 'open';
UPDATE public.whatsapp_conversation SET state = 'open' WHERE state IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS whatsapp_conversation_discuss_channel_id_index
    ON public.whatsapp_conversation (discuss_channel_id) WHERE discuss_channel_id IS NOT NULL;

-- A message's mail_message in its channel, and the status the channel shows for it.
-- discuss_shown differs from status while the channel is behind; the partial index
-- holds only the rows the channel can act on: a message we send is posted once it
-- has left (a queued notification has no number yet), so a burst of queued
-- notifications does not fill it. Rows that existed before this migration read
-- 'history' (a constant default is stored once, not written into every row) and are
-- not posted: the operators' Discuss starts with the conversations of today, not
-- with years of unread history. New rows get NULL.
ALTER TABLE public.whatsapp_message
    ADD COLUMN IF NOT EXISTS discuss_message_id integer REFERENCES public.mail_message(id) ON DELETE SET NULL,
    ADD COLUMN IF NOT EXISTS discuss_shown varchar DEFAULT 'history';
ALTER TABLE public.whatsapp_message ALTER COLUMN discuss_shown DROP DEFAULT;
-- Odoo deletes a record's messages with the record: the foreign key's check needs it.
CREATE INDEX IF NOT EXISTS whatsapp_message_discuss_message_id_index
    ON public.whatsapp_message (discuss_message_id) WHERE discuss_message_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS whatsapp_message_discuss_pending_index
    ON public.whatsapp_message (id)
    WHERE discuss_shown IS DISTINCT FROM status AND discuss_shown IS DISTINCT FROM 'history'
      AND (direction = 'in' OR discuss_message_id IS NOT NULL OR status NOT IN ('queued', 'sending', 'draft'));

-- What the triggers below capture in Odoo's transactions, one row per statement: the
-- ids of the operators' messages in WhatsApp channels (kind 'message'), or of the
-- conversations whose state or operator was changed in Odoo (kind 'conversation', with
-- the old and new "state:assigned_user_id"). The discuss worker reads them after
-- commit and deletes them in the transaction that acts on them.
CREATE TABLE IF NOT EXISTS whatsapp_sidecar.discuss_capture (
    id bigserial PRIMARY KEY,
    kind text NOT NULL,
    res_ids integer[] NOT NULL,
    old_values text[],
    new_values text[],
    created_at timestamptz NOT NULL DEFAULT now(),
    available_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0,
    last_error text
);

-- An operator's message: a 'comment' in a mail.channel that is a conversation's. The
-- sidecar's own posts set whatsapp_sidecar.writer = 'discuss' in their transaction and
-- are never captured (no loops); a message on any other record costs one scan of the
-- statement's new rows, whose model is not 'mail.channel'.
CREATE OR REPLACE FUNCTION whatsapp_sidecar.capture_discuss_message() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Most statements are about other records: leave before planning the insert.
    IF NOT EXISTS (SELECT 1 FROM new_rows WHERE model = 'mail.channel' AND message_type = 'comment')
       OR current_setting('whatsapp_sidecar.writer', true) = 'discuss' THEN
        RETURN NULL;
    END IF;
    INSERT INTO whatsapp_sidecar.discuss_capture (kind, res_ids)
    SELECT 'message', array_agg(n.id ORDER BY n.id) FROM new_rows n
    WHERE n.model = 'mail.channel' AND n.message_type = 'comment'
      AND EXISTS (SELECT 1 FROM public.whatsapp_conversation c WHERE c.discuss_channel_id = n.res_id)
    HAVING count(*) > 0;
    IF FOUND THEN
        PERFORM pg_notify('whatsapp_sidecar', 'discuss');
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS whatsapp_sidecar_capture_discuss ON public.mail_message;
CREATE TRIGGER whatsapp_sidecar_capture_discuss AFTER INSERT ON public.mail_message
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION whatsapp_sidecar.capture_discuss_message();

-- A conversation closed, reopened or assigned in Odoo's form: the channel says so.
CREATE OR REPLACE FUNCTION whatsapp_sidecar.capture_conversation_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('whatsapp_sidecar.writer', true) = 'discuss' THEN
        RETURN NULL;
    END IF;
    INSERT INTO whatsapp_sidecar.discuss_capture (kind, res_ids, old_values, new_values)
    SELECT 'conversation', array_agg(n.id ORDER BY n.id),
        array_agg(COALESCE(o.state, 'open') || ':' || COALESCE(o.assigned_user_id, 0) ORDER BY n.id),
        array_agg(COALESCE(n.state, 'open') || ':' || COALESCE(n.assigned_user_id, 0) ORDER BY n.id)
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.discuss_channel_id IS NOT NULL
      AND (COALESCE(n.state, 'open') IS DISTINCT FROM COALESCE(o.state, 'open')
           OR n.assigned_user_id IS DISTINCT FROM o.assigned_user_id)
    HAVING count(*) > 0;
    IF FOUND THEN
        PERFORM pg_notify('whatsapp_sidecar', 'discuss');
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS whatsapp_sidecar_capture_conversation ON public.whatsapp_conversation;
CREATE TRIGGER whatsapp_sidecar_capture_conversation AFTER UPDATE ON public.whatsapp_conversation
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION whatsapp_sidecar.capture_conversation_update();

-- A customer's message (an insert the channel can act on at once) wakes the discuss
-- worker, in the insert trigger the sender's wake-up already pays for. Updates (a
-- message sent, a status that moved) add nothing to the sender's and the webhook's
-- statements (025 made their trigger a row trigger that fires only on requeues): the
-- worker finds them in the partial index above, which it reads every 250 ms.
CREATE OR REPLACE FUNCTION whatsapp_sidecar.notify_message_queued() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_rows WHERE status = 'queued') THEN
        PERFORM pg_notify('whatsapp_sidecar', 'message');
    END IF;
    IF EXISTS (SELECT 1 FROM new_rows WHERE direction = 'in') THEN
        PERFORM pg_notify('whatsapp_sidecar', 'discuss');
    END IF;
    RETURN NULL;
END $$;

DO $$
DECLARE
    odoo_role text;
BEGIN
    SELECT tableowner INTO odoo_role FROM pg_catalog.pg_tables WHERE schemaname = 'public' AND tablename = 'mail_message';
    IF odoo_role IS NOT NULL AND odoo_role <> current_user THEN
        EXECUTE format('GRANT INSERT ON whatsapp_sidecar.discuss_capture TO %I', odoo_role);
        EXECUTE format('GRANT USAGE ON SEQUENCE whatsapp_sidecar.discuss_capture_id_seq TO %I', odoo_role);
    END IF;
END $$;
