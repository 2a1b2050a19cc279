// Package whatsapp is the client of Meta's WhatsApp Business Cloud API: it
// validates and sends messages, marks messages as read, uploads and downloads
// media, lists message templates, and classifies Meta's errors.
//
// It also holds what the client, the emulator and the webhook receiver share:
// the request and webhook payload types (webhook_types.go) and the
// X-Hub-Signature-256 helpers (Sign, VerifySignature).
//
// Rules come from Meta's documentation; the page is cited next to each rule.
// Pages are under https://developers.facebook.com/documentation/business-messaging/whatsapp/
// (abbreviated "D:" in comments).
package whatsapp
