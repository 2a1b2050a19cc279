package odooapp

import (
	"regexp"
	"strings"
)

// viewTermsFR translates the terms of the views (attributes string, placeholder, help,
// title and text between tags), as they are written in the XML files, so that Odoo
// shows the screens in French to fr_FR users: ir_ui_view.arch_db holds one arch per
// language. A term missing here fails the tests; a term that stays the same in French
// maps to itself.
var viewTermsFR = map[string]string{
	"Action type": "Type d'action",
	"Active":      "Active",
	"Approved":    "Approuvés",
	"Archived":    "Archivé",
	"An empty box sends the built-in text shown in it, in the language of the messages. Words in braces, such as {partner_name}, are filled in when the message is sent.": "Une case vide envoie le texte intégré qu'elle affiche, dans la langue des messages. Les mots entre accolades, comme {partner_name}, sont remplacés à l'envoi.",
	"Automatic answer":                     "Réponse automatique",
	"Automatic messages":                   "Messages automatiques",
	"Automatic replies":                    "Réponses automatiques",
	"Button":                               "Bouton",
	"Button 1":                             "Bouton 1",
	"Button 2":                             "Bouton 2",
	"Button 3":                             "Bouton 3",
	"Button clicked":                       "Bouton cliqué",
	"Buttons":                              "Boutons",
	"Buttons in Odoo":                      "Boutons dans Odoo",
	"Callback":                             "Rappel HTTP",
	"Clicks":                               "Clics",
	"Category":                             "Catégorie",
	"Components":                           "Composants",
	"Configuration":                        "Configuration",
	"Contact":                              "Contact",
	"Contact update":                       "Mise à jour du contact",
	"Content":                              "Contenu",
	"Conversation":                         "Conversation",
	"Conversation name":                    "Nom de la conversation",
	"Created on":                           "Créé le",
	"Customer's answer":                    "Réponse du client",
	"Date":                                 "Date",
	"Description":                          "Description",
	"Direction":                            "Direction",
	"Drafts":                               "Brouillons",
	"Failed":                               "En échec",
	"Group By":                             "Regrouper par",
	"Inbound":                              "Entrants",
	"Initial message":                      "Message initial",
	"Interactive":                          "Interactifs",
	"Interactive Scenario":                 "Scénario interactif",
	"Interactive Scenarios":                "Scénarios interactifs",
	"Invoice notifications":                "Notifications de facture",
	"Invoices":                             "Factures",
	"Language":                             "Langue",
	"Last message":                         "Dernier message",
	"Media":                                "Médias",
	"Message":                              "Message",
	"Message sent after the click...":      "Message envoyé après le clic...",
	"Message type":                         "Type de message",
	"Messages sent":                        "Messages envoyés",
	"Meta credentials":                     "Identifiants Meta",
	"Odoo method":                          "Méthode Odoo",
	"Opted out":                            "Désinscrits",
	"Orange Money":                         "Orange Money",
	"Order notifications":                  "Notifications de commande",
	"Orders":                               "Commandes",
	"Outbound":                             "Sortants",
	"Parameters":                           "Paramètres",
	"Payments":                             "Paiements",
	"Pending":                              "En attente",
	"Python code (not run)":                "Code Python (non exécuté)",
	"Raw API response":                     "Réponse brute de l'API",
	"Raw payload":                          "Payload brut",
	"Read":                                 "Lus",
	"Received":                             "Reçus",
	"Recipient":                            "Destinataire",
	"Rejected":                             "Rejetés",
	"Reply":                                "Réponse",
	"Sending":                              "Envoi",
	"Sent":                                 "Envoyés",
	"Status":                               "Statut",
	"Technical":                            "Technique",
	"Template":                             "Modèle",
	"Template parameters":                  "Paramètres du modèle WhatsApp",
	"Template components":                  "Composants du modèle WhatsApp",
	"Templates":                            "Modèles",
	"Text":                                 "Texte",
	"Texts":                                "Textes",
	"The message sent with the buttons...": "Le message envoyé avec les boutons...",
	"To send":                              "À envoyer",
	"Unknown number":                       "Numéro inconnu",
	"Unpaid invoice reminders":             "Rappels de factures impayées",
	"Unpaid reminders":                     "Rappels d'impayés",
	"Wave":                                 "Wave",
	"Webhook":                              "Webhook",
	"What this template is for...":         "À quoi sert ce modèle...",
	"WhatsApp":                             "WhatsApp",
	"WhatsApp Business":                    "WhatsApp Business",
	"WhatsApp Button Action":               "Action de bouton WhatsApp",
	"WhatsApp Button Actions":              "Actions de boutons WhatsApp",
	"WhatsApp Configuration":               "Configuration WhatsApp",
	"WhatsApp Configurations":              "Configurations WhatsApp",
	"WhatsApp Conversation":                "Conversation WhatsApp",
	"WhatsApp Conversations":               "Conversations WhatsApp",
	"WhatsApp Message":                     "Message WhatsApp",
	"WhatsApp Messages":                    "Messages WhatsApp",
	"WhatsApp Template":                    "Modèle WhatsApp",
	"WhatsApp Templates":                   "Modèles WhatsApp",
	"With a contact":                       "Avec un contact",
	"Write the message, save, then choose Action &gt; Send.": "Écrivez le message, enregistrez, puis choisissez Action &gt; Envoyer.",
	"Your message...":        "Votre message...",
	"action_confirm":         "action_confirm",
	"btn_validate_order_":    "btn_validate_order_",
	"e.g. Confirm the order": "ex. Valider la commande",
	"e.g. Customer support":  "ex. Support client",
	"sale.order":             "sale.order",
	// The conversation form's thread: one message per line (a style, the same in French).
	conversationThreadCSS: conversationThreadCSS,
}

const conversationThreadCSS = ".o_field_widget[name=message_ids] .o_kanban_record { flex: 0 0 100% !important; width: 100% !important; max-width: 100% !important; margin: 0 !important; }"

// frTerms are viewTermsFR and the built-in texts the configuration's boxes show,
// which stay as they are.
var frTerms = func() map[string]string {
	terms := defaultTextTerms()
	for en, fr := range viewTermsFR {
		terms[en] = fr
	}
	return terms
}()

var (
	viewTermAttr = regexp.MustCompile(`\b(string|placeholder|help|title|confirm)="([^"]*)"`)
	viewTermText = regexp.MustCompile(`>([^<]+)<`)
)

// ViewTerms returns the translatable terms of an arch, in order of appearance.
func ViewTerms(arch string) []string {
	var terms []string
	for _, m := range viewTermAttr.FindAllStringSubmatch(arch, -1) {
		terms = append(terms, m[2])
	}
	for _, m := range viewTermText.FindAllStringSubmatch(arch, -1) {
		if t := strings.TrimSpace(m[1]); t != "" {
			terms = append(terms, t)
		}
	}
	return terms
}

// translateArch returns arch with its terms translated by terms; a term without a
// translation stays as it is.
func translateArch(arch string, terms map[string]string) string {
	arch = viewTermAttr.ReplaceAllStringFunc(arch, func(s string) string {
		m := viewTermAttr.FindStringSubmatch(s)
		if fr, ok := terms[m[2]]; ok {
			return m[1] + `="` + fr + `"`
		}
		return s
	})
	return viewTermText.ReplaceAllStringFunc(arch, func(s string) string {
		inner := s[1 : len(s)-1]
		t := strings.TrimSpace(inner)
		if fr, ok := terms[t]; ok && t != "" {
			return ">" + strings.Replace(inner, t, fr, 1) + "<"
		}
		return s
	})
}
