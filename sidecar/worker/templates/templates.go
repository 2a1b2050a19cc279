// Package templates keeps whatsapp_template in step with Meta: it lists an
// account's message templates (GET /{waba_id}/message_templates, all pages) and
// upserts them by (account, name, language), leaving what users set in Odoo (the
// notification a template is mapped to, its internal name and notes) untouched.
package templates

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/accounts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/outbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
)

// Sync fetches acc's templates and upserts them; it returns how many Meta listed.
func Sync(ctx context.Context, q outbox.DBTX, acc *accounts.Account) (int, error) {
	if acc.Client == nil || acc.WABAID == "" {
		return 0, fmt.Errorf("sync templates of %q: needs an access token and a WhatsApp Business Account id (WHATSAPP_WABA_ID)", acc.Name)
	}
	list, err := acc.Client.ListTemplates(ctx, acc.WABAID)
	if err != nil {
		return 0, fmt.Errorf("sync templates of %q: %w", acc.Name, err)
	}
	now := time.Now().UTC()
	for _, t := range list {
		components, _ := json.Marshal(t.Components)
		structure, _ := json.Marshal(parameterStructure(t))
		_, err := q.Exec(ctx, upsertTemplate, nullable(acc.ConfigID), t.Name, t.Language, category(t.Category), t.Status,
			string(components), t.ParameterFormat, t.ID, now, string(structure))
		if err != nil {
			return 0, fmt.Errorf("sync template %s (%s): %w", t.Name, t.Language, err)
		}
	}
	if acc.ConfigID != 0 {
		if _, err := q.Exec(ctx, `UPDATE whatsapp_config SET templates_synced_at = $2 WHERE id = $1`, acc.ConfigID, now); err != nil {
			return 0, fmt.Errorf("sync templates of %q: %w", acc.Name, err)
		}
	}
	return len(list), nil
}

const upsertTemplate = `
INSERT INTO whatsapp_template (config_id, name, wa_name, language_code, category, status, components, parameter_format,
    meta_template_id, last_synced_at, parameter_structure, create_uid, create_date, write_uid, write_date)
VALUES ($1, $2, $2, $3, $4, $5, $6, NULLIF($7, ''), $8, $9, $10, 1, $9, 1, $9)
ON CONFLICT (COALESCE(config_id, 0), wa_name, COALESCE(language_code, '')) DO UPDATE SET
    category = EXCLUDED.category, status = EXCLUDED.status, components = EXCLUDED.components,
    parameter_format = EXCLUDED.parameter_format, meta_template_id = EXCLUDED.meta_template_id,
    last_synced_at = EXCLUDED.last_synced_at,
    parameter_structure = COALESCE(NULLIF(whatsapp_template.parameter_structure, ''), EXCLUDED.parameter_structure),
    write_date = EXCLUDED.write_date`

func nullable(id int) *int {
	if id == 0 {
		return nil
	}
	return &id
}

// category maps Meta's categories to the seed's selection (UNKNOWN for others).
func category(c string) string {
	switch c {
	case "MARKETING", "UTILITY", "AUTHENTICATION":
		return c
	}
	return "UNKNOWN"
}

var placeholder = regexp.MustCompile(`\{\{\s*([a-zA-Z0-9_]+)\s*\}\}`)

// parameterStructure describes a template's parameters in the seed's JSON format
// ({"header": [...], "body": [{"index": 1, "type": "text", "label": "..."}], ...}),
// so the seed's send wizard and users see what a template expects.
func parameterStructure(t whatsapp.TemplateInfo) map[string][]map[string]any {
	out := map[string][]map[string]any{"header": {}, "body": {}, "buttons": {}}
	for _, c := range t.Components {
		switch c.Type {
		case "HEADER":
			if c.Format != "" && c.Format != "TEXT" {
				out["header"] = append(out["header"], map[string]any{"index": 1, "type": lower(c.Format), "label": c.Format})
				continue
			}
			for i, m := range placeholder.FindAllStringSubmatch(c.Text, -1) {
				out["header"] = append(out["header"], map[string]any{"index": i + 1, "type": "text", "label": m[1]})
			}
		case "BODY":
			for i, m := range placeholder.FindAllStringSubmatch(c.Text, -1) {
				out["body"] = append(out["body"], map[string]any{"index": i + 1, "type": "text", "label": m[1]})
			}
		}
	}
	return out
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
