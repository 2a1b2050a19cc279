-- The "Envoyer par WhatsApp" actions in the Action menu of orders, invoices and
-- contacts follow the whatsapp_config switches show_button_in_order / _invoice /
-- _partner. Until now only the daemon applied them (SyncBindings, on the config
-- NOTIFY): with the daemon stopped, or `migrate` run alone, a switch turned off in
-- Odoo left the action in the menu. A trigger now applies them in the transaction that
-- changes the configuration, and the daemon's sync is only a safety net.

-- On by default, as the seed module has them, and as Odoo's form creates them (the
-- window action's context): a row written by SQL without them (the demo's) was shown
-- in Odoo as three unticked boxes while the actions stayed in the menu.
ALTER TABLE public.whatsapp_config
    ALTER COLUMN show_button_in_order SET DEFAULT true,
    ALTER COLUMN show_button_in_invoice SET DEFAULT true,
    ALTER COLUMN show_button_in_partner SET DEFAULT true;
UPDATE public.whatsapp_config SET show_button_in_order = true WHERE show_button_in_order IS NULL;
UPDATE public.whatsapp_config SET show_button_in_invoice = true WHERE show_button_in_invoice IS NULL;
UPDATE public.whatsapp_config SET show_button_in_partner = true WHERE show_button_in_partner IS NULL;

-- Whether the action a switch controls belongs in the Action menu: yes when an active
-- configuration has the switch on (an empty one is off, as Odoo shows it), and yes
-- when no configuration is active, since the sidecar may then take its credentials
-- from its environment. A switch (or is_active) whose column an administrator deleted
-- in Odoo's Settings > Technical keeps its action shown.
CREATE OR REPLACE FUNCTION whatsapp_sidecar.action_shown(switch text) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
    config regclass := to_regclass('public.whatsapp_config');
    shown boolean;
BEGIN
    IF config IS NULL OR (SELECT count(*) FROM pg_catalog.pg_attribute
                          WHERE attrelid = config AND attname IN (switch, 'is_active') AND attnum > 0 AND NOT attisdropped) < 2 THEN
        RETURN true;
    END IF;
    EXECUTE format('SELECT NOT EXISTS (SELECT 1 FROM public.whatsapp_config WHERE is_active)
                        OR EXISTS (SELECT 1 FROM public.whatsapp_config WHERE is_active AND %I)', switch)
        INTO shown;
    RETURN shown;
END $$;

-- Binds or unbinds each switched action (ir_act_server.binding_model_id, what Odoo's
-- Action menu lists) where it differs from what its switch wants, and returns the
-- actions it changed. The actions are the odooapp package's ServerActions with a
-- Switch, found by their external id.
CREATE OR REPLACE FUNCTION whatsapp_sidecar.sync_action_bindings()
RETURNS TABLE (action text, switch text, shown boolean)
LANGUAGE sql AS $$
    WITH wanted AS (
        SELECT v.action, v.switch, whatsapp_sidecar.action_shown(v.switch) AS shown
        FROM (VALUES ('action_send_sale_order', 'show_button_in_order'),
                     ('action_send_account_move', 'show_button_in_invoice'),
                     ('action_send_res_partner', 'show_button_in_partner')) AS v (action, switch)
    )
    UPDATE public.ir_act_server s
       SET binding_model_id = CASE WHEN w.shown THEN s.model_id END,
           write_uid = 1, write_date = now() AT TIME ZONE 'utc'
      FROM wanted w
      JOIN public.ir_model_data d ON d.module = 'whatsapp_sidecar' AND d.model = 'ir.actions.server' AND d.name = w.action
     WHERE s.id = d.res_id
       AND s.binding_model_id IS DISTINCT FROM CASE WHEN w.shown THEN s.model_id END
    RETURNING w.action::text, w.switch::text, w.shown
$$;

-- After a change, Odoo must drop its cached bindings (ir.actions._get_bindings is an
-- ormcache): base_cache_signaling makes every Odoo process clear its caches on its
-- next request. A sequence is not transactional, so the bump is deferred to commit
-- time: a request that refills the cache between the bump and the commit (a window of
-- the commit's own duration) would keep the old menu until Odoo's next cache signal.
--
-- It runs with the rights of the role that migrated (SECURITY DEFINER), which wrote
-- the actions: a role that may change whatsapp_config but not ir_act_server (the
-- sidecar's, an integration's) must not have its writes refused by this trigger.
CREATE OR REPLACE FUNCTION whatsapp_sidecar.config_bindings_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    changed integer;
BEGIN
    SELECT count(*) INTO changed FROM whatsapp_sidecar.sync_action_bindings();
    IF changed > 0 AND to_regclass('public.base_cache_signaling') IS NOT NULL THEN
        PERFORM nextval('public.base_cache_signaling');
    END IF;
    RETURN NULL;
END $$;

-- A constraint trigger, so that it can wait for the commit: per row, but only the
-- first row of a transaction finds anything to change.
DROP TRIGGER IF EXISTS whatsapp_sidecar_sync_bindings ON public.whatsapp_config;
CREATE CONSTRAINT TRIGGER whatsapp_sidecar_sync_bindings AFTER INSERT OR UPDATE OR DELETE ON public.whatsapp_config
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION whatsapp_sidecar.config_bindings_changed();

-- Whoever fires the trigger needs only the schema (004 gave it to Odoo's role) and
-- EXECUTE, which functions grant to everyone by default.
