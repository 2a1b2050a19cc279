-- The default button actions: what the seed module's data files installed for its own
-- button ids (btn_validate_order_{id}, btn_cancel_order_{id}, btn_view_order_details_{id},
-- btn_download_invoice_{id}, btn_pay_wave_{id}, btn_pay_orange_{id}), as built-in action
-- types the sidecar runs itself instead of the seed's exec'd Python. Each row is inserted
-- only when no action with that button id exists yet: users edit, deactivate or replace
-- them in Odoo, and a later `migrate` never overwrites their choice.
--
-- action_type values the sidecar knows (a varchar, as Odoo stores a Selection):
--   the seed's send_message, update_contact, update_status, create_ticket, custom_python
--   (reported, never run); built-ins validate_order, cancel_order, order_details,
--   invoice_pdf, payment_wave, payment_orange, payment_details (provider from the button
--   id); odoo_method (Odoo's external API); http_callback (alias callback).
-- match_mode: exact, prefix, or empty (exact, else the seed's rule: the clicked id
-- starts with button_id followed by "_", or with button_id when it ends with "_").

-- Rows written by plain SQL are active unless said otherwise, as Odoo's default is.
ALTER TABLE public.whatsapp_button_action ALTER COLUMN active SET DEFAULT true;
ALTER TABLE public.whatsapp_button_action ALTER COLUMN sequence SET DEFAULT 10;
ALTER TABLE public.whatsapp_interactive_scenario ALTER COLUMN active SET DEFAULT true;
ALTER TABLE public.whatsapp_interactive_scenario ALTER COLUMN sequence SET DEFAULT 10;

INSERT INTO public.whatsapp_button_action (name, button_id, match_mode, action_type, active, sequence, description,
    message_to_send, create_uid, create_date, write_uid, write_date)
SELECT v.name, v.button_id, v.match_mode, v.action_type, v.active, v.sequence, v.description, v.message,
    1, now() AT TIME ZONE 'utc', 1, now() AT TIME ZONE 'utc'
FROM (VALUES
    ('Validation de commande', 'btn_validate_order_', 'prefix', 'validate_order', true, 5,
     'Bouton « Valider » du message de création : confirme la commande (Odoo action_confirm quand ODOO_URL est configuré), la marque validée par WhatsApp et répond au client.',
     NULL),
    ('Annulation de commande', 'btn_cancel_order_', 'prefix', 'cancel_order', true, 6,
     'Bouton « Annuler » : annule un devis (brouillon ou envoyé), le marque rejeté par WhatsApp et répond au client ; une commande déjà confirmée n''est pas annulée.',
     NULL),
    ('Voir détail commande', 'btn_view_order_details_', 'prefix', 'order_details', true, 5,
     'Bouton « Voir détail » : envoie les lignes, quantités et montants de la commande.',
     NULL),
    ('Télécharger PDF facture', 'btn_download_invoice_', 'prefix', 'invoice_pdf', true, 10,
     'Bouton « Télécharger » : envoie la facture en PDF.',
     NULL),
    ('Payer avec Wave', 'btn_pay_wave_', 'prefix', 'payment_wave', true, 11,
     'Bouton « Payer avec Wave » : envoie le texte ou le lien de paiement Wave de la configuration, avec le montant restant dû.',
     NULL),
    ('Payer avec Orange Money', 'btn_pay_orange_', 'prefix', 'payment_orange', true, 12,
     'Bouton « Payer Orange Money » : envoie le texte ou le lien de paiement Orange Money de la configuration, avec le montant restant dû.',
     NULL),
    -- The seed's examples, installed inactive: their texts are placeholders to adapt.
    ('Confirmation Oui', 'btn_yes', 'exact', 'send_message', false, 10,
     'Exemple : réponse à un bouton « Oui ».',
     'Merci pour votre confirmation ! Nous avons bien reçu votre réponse positive.'),
    ('Refus Non', 'btn_no', 'exact', 'send_message', false, 20,
     'Exemple : réponse à un bouton « Non ».',
     'Nous avons bien reçu votre réponse. N''hésitez pas à nous contacter si vous changez d''avis.'),
    ('Demande de contact', 'btn_contact', 'exact', 'send_message', false, 30,
     'Exemple : réponse à un bouton « Être contacté ».',
     'Un de nos conseillers vous contactera dans les plus brefs délais. Merci de votre patience.'),
    ('Demande d''informations', 'btn_info', 'exact', 'send_message', false, 40,
     'Exemple : réponse à un bouton « Informations » (adaptez les coordonnées).',
     E'Voici nos informations :\n📞 Téléphone : à compléter\n📧 Email : à compléter\n🌐 Site : à compléter')
) AS v(name, button_id, match_mode, action_type, active, sequence, description, message)
WHERE NOT EXISTS (SELECT 1 FROM public.whatsapp_button_action a WHERE a.button_id = v.button_id);
