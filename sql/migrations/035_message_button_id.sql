-- A customer's click is recorded as the title they tapped (content) and the button's
-- or list row's id, in its own column: Odoo shows the title marked as a click in the
-- user's language, and the id stays searchable for integrators.
ALTER TABLE public.whatsapp_message ADD COLUMN IF NOT EXISTS button_id varchar;

-- Clicks recorded before this migration read "[Bouton : btn_validate_order_26] Valider"
-- or "[Liste : row_id] title — description": the id moves to button_id, the title
-- stays. A row rewritten no longer matches, so running this again changes nothing.
UPDATE public.whatsapp_message
SET button_id = substring(content FROM '^\[(?:Bouton|Liste) : ([^]]*)\]'),
    content = COALESCE(NULLIF(regexp_replace(content, '^\[(?:Bouton|Liste) : [^]]*\] ?', ''), ''),
                       substring(content FROM '^\[(?:Bouton|Liste) : ([^]]*)\]'))
WHERE direction = 'in' AND message_type IN ('interactive', 'button') AND button_id IS NULL
  AND content ~ '^\[(?:Bouton|Liste) : [^]]*\]';
