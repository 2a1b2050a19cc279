package send

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/jackc/pgx/v5"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/queue/outbox"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
)

// MessageModel is the Odoo model of whatsapp_message: an attachment created for one
// message has it as res_model and the message's id as res_id.
const MessageModel = "whatsapp.message"

// QueueDocument queues m as a document message carrying a file: the row and the
// file, stored as an Odoo attachment of that message, in one transaction, so the
// sender never sees the row without its file. It returns the row's id.
func QueueDocument(ctx context.Context, db odoo.Beginner, m outbox.Message, path string, data []byte) (int, error) {
	name := filepath.Base(path)
	var id int
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		ids, err := outbox.Enqueue(ctx, tx, m)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return fmt.Errorf("document %s: the message was not queued (same dedup key as an existing one)", name)
		}
		id = ids[0]
		attachment, mimeType, err := odoo.StoreAttachment(ctx, tx, odoo.NewAttachment{Name: name, Data: data, ResModel: MessageModel, ResID: id})
		if err != nil {
			return err
		}
		if _, _, ok := whatsapp.MediaLimit(mimeType); !ok {
			return fmt.Errorf("document %s: WhatsApp does not accept %s files (pdf, txt, doc(x), xls(x), ppt(x))", name, mimeType)
		}
		return outbox.SetAttachment(ctx, tx, id, attachment, mimeType, name)
	})
	return id, err
}
