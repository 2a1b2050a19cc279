#!/usr/bin/env python3
"""When does a user see the sidecar's x_whatsapp_* flags? Sample Odoo's rows every 50 ms.

PostgreSQL keeps no commit time of a row unless track_commit_timestamp is on (it is off by
default and needs a restart), and x_whatsapp_*_sent_date is when the message left, not when
the flag was written. So this side process reads the orders and invoices newer than the
ones at its start, every --interval seconds, in autocommit (each read a snapshot of its own,
as a page load is), and records the first time it saw each of:

  sale_order:   the row, state = 'sale', x_whatsapp_creation_sent, x_whatsapp_state_sent
  account_move: (out_invoice) the row, state = 'posted', payment_state paid/in_payment,
                x_whatsapp_invoice_sent, x_whatsapp_residual_sent

A flag's delay is its first sight minus the first sight of the Odoo commit it is about
(row, confirmation, posting, payment): both have the sampling's resolution. It stops on
SIGTERM/SIGINT; after SIGUSR1 (the flows are done) it stops as soon as every row seen has
all its flags, or --until-flagged seconds later. Then it writes one JSON document. It is an ordinary client (application_name odoomeasure-poller):
its reads count as open transactions for the sidecar's quiet check, as users' page loads
would, so the delays it reports are if anything longer than without it.

Needs python3-psycopg2 (installed with Odoo's dependencies).
"""
import argparse
import datetime
import json
import signal
import sys
import time

import psycopg2

ORDERS = """SELECT id, partner_id, state, x_whatsapp_creation_sent, x_whatsapp_state_sent
            FROM sale_order WHERE id > %s"""
INVOICES = """SELECT id, partner_id, state, payment_state, x_whatsapp_invoice_sent, x_whatsapp_residual_sent
              FROM account_move WHERE id > %s AND move_type = 'out_invoice'"""
# What the poller could not see itself: Odoo's own dates and the send times.
ORDER_DATES = """SELECT id, create_date, write_date, x_whatsapp_creation_sent_date, x_whatsapp_state_sent_date
                 FROM sale_order WHERE id = ANY(%s)"""
INVOICE_DATES = """SELECT id, create_date, write_date, x_whatsapp_invoice_sent_date, x_whatsapp_residual_sent_date
                   FROM account_move WHERE id = ANY(%s)"""
MESSAGES = """SELECT res_model, res_id, kind, status, sent_at, flags_pending, note_pending
              FROM whatsapp_message WHERE direction = 'out' AND
                ((res_model = 'sale.order' AND res_id = ANY(%s)) OR (res_model = 'account.move' AND res_id = ANY(%s)))"""

ORDER_EVENTS = ("row", "confirmed", "creation_sent", "state_sent")
INVOICE_EVENTS = ("row", "posted", "paid", "invoice_sent", "residual_sent")


def utc_iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).replace(tzinfo=None).isoformat(timespec="milliseconds")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dsn", default="dbname=odoo16 host=/var/run/postgresql")
    ap.add_argument("--interval", type=float, default=0.05)
    ap.add_argument("--until-flagged", type=float, default=120,
                    help="after SIGUSR1, wait at most this many seconds for every row's flags (default 120)")
    ap.add_argument("--out", required=True, help="JSON file written at the end")
    args = ap.parse_args()

    conn = psycopg2.connect(args.dsn, application_name="odoomeasure-poller")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SELECT COALESCE(max(id), 0) FROM sale_order")
    so_from = cur.fetchone()[0]
    cur.execute("SELECT COALESCE(max(id), 0) FROM account_move")
    am_from = cur.fetchone()[0]
    seen = {"sale.order": {}, "account.move": {}}
    partner = {}
    stop, flows_done = [], []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    signal.signal(signal.SIGUSR1, lambda *_: flows_done.append(time.time()))
    started = time.time()
    samples = 0
    print(json.dumps({"ready": True, "orders_after": so_from, "invoices_after": am_from}), flush=True)
    while not stop:
        t0 = time.time()
        cur.execute(ORDERS, (so_from,))
        orders = cur.fetchall()
        cur.execute(INVOICES, (am_from,))
        invoices = cur.fetchall()
        now = time.time()  # the read's snapshot is between t0 and now: take the end (pessimistic)
        samples += 1
        for oid, pid, state, created, confirmed_sent in orders:
            s = seen["sale.order"].setdefault(oid, {})
            partner[("sale.order", oid)] = pid
            for ev, on in (("row", True), ("confirmed", state == "sale"), ("creation_sent", created),
                           ("state_sent", confirmed_sent)):
                if on and ev not in s:
                    s[ev] = now
        for mid, pid, state, pay, inv_sent, res_sent in invoices:
            s = seen["account.move"].setdefault(mid, {})
            partner[("account.move", mid)] = pid
            for ev, on in (("row", True), ("posted", state == "posted"), ("paid", pay in ("paid", "in_payment")),
                           ("invoice_sent", inv_sent), ("residual_sent", res_sent)):
                if on and ev not in s:
                    s[ev] = now
        if flows_done:
            done = all(len(v) == len(ORDER_EVENTS) for v in seen["sale.order"].values()) and \
                   all(len(v) == len(INVOICE_EVENTS) for v in seen["account.move"].values())
            if done or now - flows_done[0] > args.until_flagged:
                break
        time.sleep(max(0, args.interval - (time.time() - t0)))
    ended = time.time()
    so_ids, am_ids = list(seen["sale.order"]), list(seen["account.move"])
    dates = {}
    cur.execute(ORDER_DATES, (so_ids,))
    for r in cur.fetchall():
        dates[("sale.order", r[0])] = {"create_date": r[1], "write_date": r[2], "creation_sent_date": r[3], "state_sent_date": r[4]}
    cur.execute(INVOICE_DATES, (am_ids,))
    for r in cur.fetchall():
        dates[("account.move", r[0])] = {"create_date": r[1], "write_date": r[2], "invoice_sent_date": r[3], "residual_sent_date": r[4]}
    msgs = {}
    cur.execute(MESSAGES, (so_ids, am_ids))
    for model, rid, kind, status, sent_at, fp, np in cur.fetchall():
        msgs.setdefault(f"{model},{rid}", []).append(
            {"kind": kind, "status": status, "sent_at": sent_at.isoformat() if sent_at else None,
             "flags_pending": fp, "note_pending": np})
    records = []
    for model, rows in seen.items():
        for rid, evs in sorted(rows.items()):
            d = dates.get((model, rid), {})
            records.append({"model": model, "id": rid, "partner_id": partner[(model, rid)],
                            "seen": {k: utc_iso(v) for k, v in evs.items()},
                            "seen_epoch": evs,
                            "dates": {k: (v.isoformat() if v else None) for k, v in d.items()},
                            "messages": msgs.get(f"{model},{rid}", [])})
    json.dump({"started": utc_iso(started), "ended": utc_iso(ended),
               "flows_done": utc_iso(flows_done[0]) if flows_done else None, "interval_s": args.interval,
               "samples": samples, "orders_after": so_from, "invoices_after": am_from, "records": records},
              open(args.out, "w"), indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
