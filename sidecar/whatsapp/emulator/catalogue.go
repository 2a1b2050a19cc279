package emulator

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
)

// ReadTemplates reads a template catalogue for Config.Templates: a JSON array of
// templates, or a page of GET /{waba-id}/message_templates as Meta answers it.
func ReadTemplates(path string) ([]whatsapp.TemplateInfo, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read templates: %w", err)
	}
	var list []whatsapp.TemplateInfo
	if err := json.Unmarshal(raw, &list); err == nil {
		return list, nil
	}
	var page whatsapp.TemplatePage
	if err := json.Unmarshal(raw, &page); err != nil {
		return nil, fmt.Errorf("parse templates %s: %w", path, err)
	}
	return page.Data, nil
}
