-- Change capture on Odoo's tables. Statement-level AFTER triggers with transition tables:
-- an ORM write `UPDATE ... WHERE id IN (1000 ids)` costs one INSERT ... SELECT into the
-- event queue and one pg_notify, not 1000 row triggers. Column lists (UPDATE OF state)
-- cannot be combined with transition tables, so the functions compare old and new rows
-- themselves; an update that touches neither state nor amount_residual (for instance the
-- sidecar writing its x_whatsapp_* flags) records nothing.
--
-- The functions run as the role that fires them (Odoo's) and name every object with its
-- schema. Not SECURITY DEFINER: with its SET search_path, that doubled the triggers' cost
-- on a one-row ORM write (measured: +50 us against +25 us); Odoo's role gets the one right
-- it needs instead (below). pg_notify is transactional: it is delivered on commit, and not
-- at all on rollback.

CREATE OR REPLACE FUNCTION whatsapp_sidecar.capture_sale_order_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO whatsapp_sidecar.event (model, res_id, kind, new_value)
    SELECT 'sale.order', n.id, 'order_created', n.state FROM new_rows n;
    IF FOUND THEN
        PERFORM pg_notify('whatsapp_sidecar', 'event');
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION whatsapp_sidecar.capture_sale_order_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO whatsapp_sidecar.event (model, res_id, kind, old_value, new_value)
    SELECT 'sale.order', n.id, 'order_state', o.state, n.state
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.state IS DISTINCT FROM o.state;
    IF FOUND THEN
        PERFORM pg_notify('whatsapp_sidecar', 'event');
    END IF;
    RETURN NULL;
END $$;

-- Customer invoices and refunds only: vendor bills, receipts and journal entries
-- (payments are move_type 'entry') never notify a customer.
CREATE OR REPLACE FUNCTION whatsapp_sidecar.capture_account_move_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO whatsapp_sidecar.event (model, res_id, kind, new_value)
    SELECT 'account.move', n.id, 'invoice_posted', n.state FROM new_rows n
    WHERE n.state = 'posted' AND n.move_type IN ('out_invoice', 'out_refund');
    IF FOUND THEN
        PERFORM pg_notify('whatsapp_sidecar', 'event');
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION whatsapp_sidecar.capture_account_move_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO whatsapp_sidecar.event (model, res_id, kind, old_value, new_value)
    SELECT 'account.move', c.id, c.kind, c.old_value, c.new_value
    FROM new_rows n
    JOIN old_rows o ON o.id = n.id
    CROSS JOIN LATERAL (VALUES
        -- Posting: Odoo sets state first and the final name (INV/...) in a later
        -- statement of the same transaction; the daemon reads the name after commit.
        (n.id, 'invoice_posted', o.state::text, n.state::text,
         o.state IS DISTINCT FROM 'posted'),
        -- A payment (or its reversal) on an invoice that was already posted.
        (n.id, 'invoice_residual', o.amount_residual::text, n.amount_residual::text,
         o.state = 'posted' AND n.amount_residual IS DISTINCT FROM o.amount_residual)
    ) AS c(id, kind, old_value, new_value, fires)
    WHERE n.state = 'posted' AND n.move_type IN ('out_invoice', 'out_refund') AND c.fires;
    IF FOUND THEN
        PERFORM pg_notify('whatsapp_sidecar', 'event');
    END IF;
    RETURN NULL;
END $$;

-- A queued whatsapp_message row is the API: whoever inserts one (the sidecar's composer,
-- an Odoo server action, plain SQL) wakes the sender.
CREATE OR REPLACE FUNCTION whatsapp_sidecar.notify_message_queued() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_rows WHERE status = 'queued') THEN
        PERFORM pg_notify('whatsapp_sidecar', 'message');
    END IF;
    RETURN NULL;
END $$;

-- Business switches live in whatsapp_config: reload them when a row changes.
CREATE OR REPLACE FUNCTION whatsapp_sidecar.notify_config_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('whatsapp_sidecar', 'config');
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS whatsapp_sidecar_capture_insert ON public.sale_order;
CREATE TRIGGER whatsapp_sidecar_capture_insert AFTER INSERT ON public.sale_order
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION whatsapp_sidecar.capture_sale_order_insert();

DROP TRIGGER IF EXISTS whatsapp_sidecar_capture_update ON public.sale_order;
CREATE TRIGGER whatsapp_sidecar_capture_update AFTER UPDATE ON public.sale_order
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION whatsapp_sidecar.capture_sale_order_update();

DROP TRIGGER IF EXISTS whatsapp_sidecar_capture_insert ON public.account_move;
CREATE TRIGGER whatsapp_sidecar_capture_insert AFTER INSERT ON public.account_move
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION whatsapp_sidecar.capture_account_move_insert();

DROP TRIGGER IF EXISTS whatsapp_sidecar_capture_update ON public.account_move;
CREATE TRIGGER whatsapp_sidecar_capture_update AFTER UPDATE ON public.account_move
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION whatsapp_sidecar.capture_account_move_update();

DROP TRIGGER IF EXISTS whatsapp_sidecar_notify_insert ON public.whatsapp_message;
CREATE TRIGGER whatsapp_sidecar_notify_insert AFTER INSERT ON public.whatsapp_message
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION whatsapp_sidecar.notify_message_queued();

DROP TRIGGER IF EXISTS whatsapp_sidecar_notify_update ON public.whatsapp_message;
CREATE TRIGGER whatsapp_sidecar_notify_update AFTER UPDATE ON public.whatsapp_message
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION whatsapp_sidecar.notify_message_queued();

DROP TRIGGER IF EXISTS whatsapp_sidecar_notify_change ON public.whatsapp_config;
CREATE TRIGGER whatsapp_sidecar_notify_change AFTER INSERT OR UPDATE OR DELETE ON public.whatsapp_config
    FOR EACH STATEMENT EXECUTE FUNCTION whatsapp_sidecar.notify_config_changed();

-- Odoo's role (the owner of its tables) fires the triggers: let it queue events when
-- the sidecar runs as another role. Nothing to do when both are the same role.
DO $$
DECLARE
    odoo_role text;
BEGIN
    SELECT tableowner INTO odoo_role FROM pg_catalog.pg_tables WHERE schemaname = 'public' AND tablename = 'sale_order';
    IF odoo_role IS NOT NULL AND odoo_role <> current_user THEN
        EXECUTE format('GRANT USAGE ON SCHEMA whatsapp_sidecar TO %I', odoo_role);
        EXECUTE format('GRANT INSERT ON whatsapp_sidecar.event TO %I', odoo_role);
        EXECUTE format('GRANT USAGE ON SEQUENCE whatsapp_sidecar.event_id_seq TO %I', odoo_role);
    END IF;
END $$;
