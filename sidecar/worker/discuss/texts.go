package discuss

import (
	"fmt"
	"strings"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify/texts"
)

// words are the channel's own words, in the configuration's language.
type words struct {
	lang texts.Lang
}

func (w words) fr() bool { return w.lang != texts.English }

func (w words) pick(fr, en string) string {
	if w.fr() {
		return fr
	}
	return en
}

// status is a delivery status as the channel shows it.
func (w words) status(status, errMsg string) string {
	fr := map[string]string{"queued": "En file d'attente", "sending": "Envoi en cours", "unknown": "Incertain (réponse de Meta perdue)",
		"sent": "Envoyé", "delivered": "Distribué", "read": "Lu", "failed": "Échec", "received": "Reçu", "draft": "Brouillon"}
	en := map[string]string{"queued": "Queued", "sending": "Sending", "unknown": "Unknown (Meta's answer lost)",
		"sent": "Sent", "delivered": "Delivered", "read": "Read", "failed": "Failed", "received": "Received", "draft": "Draft"}
	label := en[status]
	if w.fr() {
		label = fr[status]
	}
	if label == "" {
		label = status
	}
	if status == "failed" && errMsg != "" {
		label += " : " + errMsg
		if !w.fr() {
			label = "Failed: " + errMsg
		}
	}
	return label
}

// statusField is the label of the tracking value that shows a status.
const statusField = "WhatsApp"

// origin is the "old value" of a message's first status: it comes from Odoo.
const origin = "Odoo"

func (w words) windowClosed(templates []string) string {
	return w.pick(
		"Fenêtre de 24 heures fermée : le client n'a pas écrit depuis plus de 24 heures, un message libre ne lui serait pas remis. ",
		"24-hour window closed: the customer has not written for more than 24 hours, a free-form message would not reach them. ") +
		w.templates(templates)
}

// templates offers the approved templates that still reach the customer.
func (w words) templates(templates []string) string {
	var b strings.Builder
	if len(templates) == 0 {
		b.WriteString(w.pick(
			"Aucun modèle approuvé n'est associé aux réponses Discuss (WhatsApp > Modèles, notification « discuss_reply »).",
			"No approved template is mapped to Discuss replies (WhatsApp > Templates, notification \"discuss_reply\")."))
		return b.String()
	}
	b.WriteString(w.pick("Modèles approuvés : ", "Approved templates: "))
	b.WriteString(strings.Join(templates, ", "))
	b.WriteString(w.pick(". Pour en envoyer un, écrivez /modele NOM (et le texte de son paramètre après le nom).",
		". To send one, write /template NAME (and its parameter's text after the name)."))
	return b.String()
}

func (w words) notSentWindow() string {
	return w.pick("Non envoyé : fenêtre de 24 heures fermée, WhatsApp n'accepte plus qu'un modèle approuvé.",
		"Not sent: the 24-hour window is closed, WhatsApp accepts only an approved template.")
}

func (w words) notSentOptOut() string {
	return w.pick("Non envoyé : le client s'est désinscrit (STOP), plus rien ne lui est envoyé.",
		"Not sent: the customer opted out (STOP), nothing more is sent to them.")
}

func (w words) notSentNoTemplate(name string) string {
	return w.pick(fmt.Sprintf("Non envoyé : aucun modèle approuvé nommé « %s ».", name),
		fmt.Sprintf("Not sent: no approved template named \"%s\".", name))
}

func (w words) optedOut() string {
	return w.pick("Le client s'est désinscrit (STOP) : plus aucun message ne lui sera envoyé.",
		"The customer opted out (STOP): no more messages will be sent to them.")
}

func (w words) optedIn() string {
	return w.pick("Le client s'est réinscrit : les messages lui sont de nouveau envoyés.",
		"The customer opted in again: messages are sent to them again.")
}

func (w words) closedBy(who string) string {
	return w.pick("Conversation fermée par "+who+".", "Conversation closed by "+who+".")
}

func (w words) reopenedBy(who string) string {
	return w.pick("Conversation rouverte par "+who+".", "Conversation reopened by "+who+".")
}

func (w words) reopenedByCustomer() string {
	return w.pick("Conversation rouverte : le client a écrit.", "Conversation reopened: the customer wrote.")
}

func (w words) assigned(to, by string) string {
	if to == "" {
		return w.pick("Conversation désassignée par "+by+".", "Conversation unassigned by "+by+".")
	}
	return w.pick("Conversation assignée à "+to+" par "+by+".", "Conversation assigned to "+to+" by "+by+".")
}

func (w words) unknownContact() string {
	return w.pick("Contact créé par WhatsApp : ce numéro n'était connu d'aucun contact.",
		"Contact created by WhatsApp: no contact had this number.")
}

func (w words) unknownTag() string {
	return w.pick("WhatsApp : numéro inconnu", "WhatsApp: unknown number")
}

func (w words) chatterLink(channelName string) string {
	return w.pick("Conversation WhatsApp dans Discuss : ", "WhatsApp conversation in Discuss: ") + channelName
}

func (w words) reaction(emoji string) string {
	if emoji == "" {
		return w.pick("a retiré sa réaction", "removed a reaction")
	}
	return w.pick("a réagi ", "reacted ") + emoji
}

func (w words) location() string { return w.pick("Position", "Location") }

func (w words) template(name string) string { return w.pick("Modèle ", "Template ") + name }
