-- An UPDATE of whatsapp_message wakes the sender only when it makes a row queued
-- (an operator sending a message again, a retry given back). As a statement trigger
-- with a transition table, every update (each batch of sends recorded, each batch of
-- status reports applied) paid for a copy of the rows it changed, raw payloads
-- included; a row trigger whose WHEN clause PostgreSQL checks itself costs nothing
-- when it does not fire.
CREATE OR REPLACE FUNCTION whatsapp_sidecar.notify_message_requeued() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('whatsapp_sidecar', 'message');
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS whatsapp_sidecar_notify_update ON public.whatsapp_message;
CREATE TRIGGER whatsapp_sidecar_notify_update AFTER UPDATE OF status ON public.whatsapp_message
    FOR EACH ROW WHEN (NEW.status = 'queued' AND OLD.status IS DISTINCT FROM 'queued')
    EXECUTE FUNCTION whatsapp_sidecar.notify_message_requeued();
