package notify_test

import (
	"go/build"
	"math/big"
	"strings"
	"testing"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/notify/texts"
)

var xof = notify.Currency{Name: "XOF", Symbol: "CFA", Position: "after"}

func order(state string) *notify.Order {
	return &notify.Order{ID: 26, Name: "S00026", State: state, Currency: xof,
		Partner: notify.Partner{ID: 42, Name: "Awa Ndiaye", Mobile: "+221 77 123 45 67"},
		Untaxed: big.NewRat(230000, 1), Tax: big.NewRat(41400, 1), Total: big.NewRat(271400, 1)}
}

func buttonIDs(m notify.Message) []string {
	var ids []string
	for _, b := range m.Buttons {
		ids = append(ids, b.ID)
	}
	return ids
}

// "Envoyer par WhatsApp" sends what fits the order's state: the buttons to validate
// only while there is something to validate.
func TestOrderSummaryFitsTheState(t *testing.T) {
	fr := notify.Settings{Lang: texts.French}
	cases := []struct {
		state       string
		wantButtons []string
		wantText    string
	}{
		{"draft", []string{"btn_validate_order_26", "btn_cancel_order_26", "btn_view_order_details_26"}, "Validez-la ou annulez-la"},
		{"sent", []string{"btn_validate_order_26", "btn_cancel_order_26", "btn_view_order_details_26"}, "Validez-la ou annulez-la"},
		{"sale", []string{"btn_view_order_details_26"}, "Elle est confirmée"},
		{"done", []string{"btn_view_order_details_26"}, "Elle est confirmée"},
		{"cancel", nil, "a été annulée"},
	}
	for _, c := range cases {
		m := notify.OrderSummary(fr, order(c.state))
		if got := buttonIDs(m); strings.Join(got, ",") != strings.Join(c.wantButtons, ",") {
			t.Errorf("%s: buttons %v, want %v", c.state, got, c.wantButtons)
		}
		if !strings.Contains(m.Content, c.wantText) || !strings.Contains(m.Content, "271 400 F CFA") {
			t.Errorf("%s: text %q, want it to say %q and the amount", c.state, m.Content, c.wantText)
		}
		if m.Kind != notify.KindOrderSummary || m.ResModel != "sale.order" || m.ResID != 26 || m.ContactID != 42 {
			t.Errorf("%s: message about %s %d (%s) to %d", c.state, m.ResModel, m.ResID, m.Kind, m.ContactID)
		}
	}
}

// Rendering is a leaf: it imports nothing of the database, of Odoo's rows or of the
// queues, so every text can be tested like this one.
func TestNotifyIsALeaf(t *testing.T) {
	for _, dir := range []string{".", "texts"} {
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range pkg.Imports {
			if strings.HasPrefix(imp, "github.com/jackc/") || (strings.Contains(imp, "whatsapp-sidecar/sidecar/") &&
				!strings.HasSuffix(imp, "/notify/texts") && !strings.HasSuffix(imp, "/whatsapp/phone")) {
				t.Errorf("package %s imports %s", pkg.Name, imp)
			}
		}
	}
}
