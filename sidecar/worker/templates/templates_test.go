package templates_test

import (
	"context"
	"testing"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/accounts"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/devkit/pgtest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/plumbing/config"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator/emulatortest"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/worker/templates"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// Sync fills whatsapp_template from Meta, and a second sync updates Meta's fields
// while keeping what users set in Odoo (the notification a template is mapped to).
func TestSyncKeepsUsersMapping(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t, pgtest.Sidecar)
	emu := emulatortest.Start(t, emulator.Config{AccessToken: "tok"})
	emu.AddTemplate(whatsapp.TemplateInfo{ID: "77", Name: "facture_impayee", Language: "fr", Status: "PENDING", Category: "UTILITY",
		ParameterFormat: "POSITIONAL", Components: []whatsapp.TemplateComponentInfo{{Type: "BODY", Text: "Bonjour {{1}}, la facture {{2}} reste due : {{3}}."}}})
	db.Exec(t, `INSERT INTO whatsapp_config (name, phone_number_id, access_token, whatsapp_business_account_id) VALUES ('Boutique', '1065', 'tok', $1)`, emulator.DefaultWABAID)
	reg := accounts.New(accounts.Options{Env: config.WhatsApp{APIURL: emu.BaseURL()}})
	if err := reg.Load(ctx, db.Pool(t)); err != nil {
		t.Fatal(err)
	}
	acc := reg.All()[0]
	n, err := templates.Sync(ctx, db.Pool(t), acc)
	if err != nil || n != 2 {
		t.Fatalf("Sync = %d, %v; want hello_world and facture_impayee", n, err)
	}
	db.Exec(t, `UPDATE whatsapp_template SET notification_kind = 'invoice_reminder', name = 'Rappel facture' WHERE wa_name = 'facture_impayee'`)
	emu.AddTemplate(whatsapp.TemplateInfo{ID: "77", Name: "facture_impayee", Language: "fr", Status: "APPROVED", Category: "UTILITY",
		ParameterFormat: "POSITIONAL", Components: []whatsapp.TemplateComponentInfo{{Type: "BODY", Text: "Bonjour {{1}}, la facture {{2}} reste due : {{3}}."}}})
	if _, err := templates.Sync(ctx, db.Pool(t), acc); err != nil {
		t.Fatal(err)
	}
	var rows int
	var status, kind, name, structure string
	db.QueryRow(t, []any{&rows}, `SELECT count(*) FROM whatsapp_template`)
	db.QueryRow(t, []any{&status, &kind, &name, &structure}, `SELECT status, notification_kind, name, parameter_structure FROM whatsapp_template WHERE wa_name = 'facture_impayee'`)
	if rows != 2 || status != "APPROVED" || kind != "invoice_reminder" || name != "Rappel facture" {
		t.Errorf("after re-sync: %d rows, status %s, kind %q, name %q; want 2, APPROVED, the user's mapping and name kept", rows, status, kind, name)
	}
	if structure == "" || structure == "null" {
		t.Errorf("parameter_structure %q, want the seed's description of the 3 body parameters", structure)
	}
	var synced bool
	db.QueryRow(t, []any{&synced}, `SELECT templates_synced_at IS NOT NULL FROM whatsapp_config`)
	if !synced {
		t.Error("templates_synced_at not set: an Odoo sync request would repeat forever")
	}
}
