package whatsapp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// TemplateInfo is a message template as listed by
// GET /{waba-id}/message_templates (D: templates/template-management).
type TemplateInfo struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Language string `json:"language"`
	// Status is APPROVED, PENDING, REJECTED, PAUSED, DISABLED, ...
	Status string `json:"status"`
	// Category is MARKETING, UTILITY or AUTHENTICATION.
	Category    string `json:"category"`
	SubCategory string `json:"sub_category,omitempty"`
	// ParameterFormat is NAMED or POSITIONAL.
	ParameterFormat string                  `json:"parameter_format,omitempty"`
	Components      []TemplateComponentInfo `json:"components"`
}

// TemplateComponentInfo is one component of a template definition.
type TemplateComponentInfo struct {
	// Type is HEADER, BODY, FOOTER or BUTTONS.
	Type string `json:"type"`
	// Format of a HEADER: TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION.
	Format  string               `json:"format,omitempty"`
	Text    string               `json:"text,omitempty"`
	Buttons []TemplateButtonInfo `json:"buttons,omitempty"`
	Example json.RawMessage      `json:"example,omitempty"`
}

// TemplateButtonInfo is one button of a BUTTONS component.
type TemplateButtonInfo struct {
	// Type is QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, FLOW, ...
	Type        string   `json:"type"`
	Text        string   `json:"text"`
	URL         string   `json:"url,omitempty"`
	PhoneNumber string   `json:"phone_number,omitempty"`
	Example     []string `json:"example,omitempty"`
}

// TemplatePage is one page of GET /{waba-id}/message_templates, with Graph
// cursor paging.
type TemplatePage struct {
	Data   []TemplateInfo `json:"data"`
	Paging *Paging        `json:"paging,omitempty"`
}

// Paging is Graph API cursor paging.
type Paging struct {
	Cursors struct {
		Before string `json:"before,omitempty"`
		After  string `json:"after,omitempty"`
	} `json:"cursors"`
	Next     string `json:"next,omitempty"`
	Previous string `json:"previous,omitempty"`
}

// templateFields are the fields ListTemplates asks for.
const templateFields = "id,name,language,status,category,sub_category,parameter_format,components"

// maxTemplatePages bounds paging: 250 templates per WABA
// (D: templates/template-management) fit in 3 pages of 100.
const maxTemplatePages = 100

// ListTemplates returns all the templates of a WhatsApp Business Account,
// following the "after" cursors (not the "next" URL, so the token only goes
// to BaseURL).
func (c *Client) ListTemplates(ctx context.Context, wabaID string) ([]TemplateInfo, error) {
	if err := checkID("WABA ID", wabaID); err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	var all []TemplateInfo
	after := ""
	for range maxTemplatePages {
		q := url.Values{"fields": {templateFields}, "limit": {"100"}}
		if after != "" {
			q.Set("after", after)
		}
		raw, err := c.call(ctx, callSpec{
			endpoint: endpointTemplates, method: http.MethodGet, idempotent: true,
			url: c.base + "/" + wabaID + "/message_templates?" + q.Encode(),
		})
		if err != nil {
			return nil, fmt.Errorf("list templates: %w", err)
		}
		var page TemplatePage
		if err := json.Unmarshal(raw, &page); err != nil {
			return nil, fmt.Errorf("list templates: decode: %w", err)
		}
		all = append(all, page.Data...)
		if page.Paging == nil || page.Paging.Next == "" || page.Paging.Cursors.After == "" || len(page.Data) == 0 {
			return all, nil
		}
		after = page.Paging.Cursors.After
	}
	return nil, fmt.Errorf("list templates: more than %d pages", maxTemplatePages)
}
