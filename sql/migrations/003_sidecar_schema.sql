-- The sidecar's own machinery, out of Odoo's way in its own schema: `uninstall` drops it
-- whole. The migration bookkeeping table (whatsapp_sidecar.migration) is created by the
-- migrator itself, before this file runs.

-- What the capture triggers record: *that* a record changed, never a composed message.
-- A row is visible only once Odoo's transaction commits; the daemon reads the record
-- after commit, so it sees the final name and amounts. Processed rows are deleted.
CREATE TABLE IF NOT EXISTS whatsapp_sidecar.event (
    id bigserial PRIMARY KEY,
    model text NOT NULL,
    res_id integer NOT NULL,
    kind text NOT NULL,
    old_value text,
    new_value text,
    created_at timestamptz NOT NULL DEFAULT now(),
    available_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0,
    last_error text
);
-- No index beyond the primary key: the composer reads the queue in id order, and
-- every index would be one more insert per captured row inside Odoo's transaction.

-- Meta's webhook deliveries, stored raw (the exact signed bytes) before any processing,
-- so a slow database or a bug in the processor never loses one.
CREATE TABLE IF NOT EXISTS whatsapp_sidecar.inbox (
    id bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    body bytea NOT NULL,
    signature text,
    available_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0,
    processed_at timestamptz,
    last_error text
);
CREATE INDEX IF NOT EXISTS inbox_pending_idx ON whatsapp_sidecar.inbox (available_at, id)
    WHERE processed_at IS NULL;
