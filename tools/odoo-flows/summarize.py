#!/usr/bin/env python3
"""Tables from ab_session.py's runs: BENCHMARKS.md's layout, the log's failures, the sends,
the flags and when they appeared.

    python3 tools/odoo-flows/summarize.py runs/ [--final]   # --final: check the flags in the database now
"""
import argparse
import glob
import json
import os
import statistics
import subprocess

FLAGS = {  # flag -> the Odoo commit it follows, per model
    "sale.order": {"creation_sent": "row", "state_sent": "confirmed"},
    "account.move": {"invoice_sent": "posted", "residual_sent": "paid"},
}
# The notifications each record must get (buttons come with an invoice still unpaid when composed).
KINDS = {"sale.order": {"order_created", "order_confirmed"}, "account.move": {"invoice_posted", "invoice_paid"}}
COLUMNS = {"creation_sent": "x_whatsapp_creation_sent", "state_sent": "x_whatsapp_state_sent",
           "invoice_sent": "x_whatsapp_invoice_sent", "residual_sent": "x_whatsapp_residual_sent"}


def pct(values, p):
    s = sorted(values)
    k = max(1, -(-len(s) * p // 100))
    return s[int(k) - 1]


def psql(sql):
    return subprocess.run(["psql", "-h", "/var/run/postgresql", "-d", "odoo16", "-XAtc", sql],
                          capture_output=True, text=True, check=True).stdout.split()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--final", action="store_true")
    ap.add_argument("--paced-partner", type=int, default=14,
                    help="the one-customer runs' partner, whose messages the sidecar paces (left out of delays)")
    args = ap.parse_args()
    runs = []
    for p in sorted(glob.glob(os.path.join(args.dir, "run-*-*-[0-9]*.json"))):
        if p.endswith((".flows.json", ".poll.json")):
            continue
        d = json.load(open(p))
        poll = p[:-5] + ".poll.json"
        d["poll"] = json.load(open(poll)) if os.path.exists(poll) else None
        runs.append(d)
    runs.sort(key=lambda d: d["window"][0])
    for table in dict.fromkeys(d["table"] for d in runs):
        rs = [d for d in runs if d["table"] == table]
        print(f"\n### {table}\n")
        print("| flow | round | sidecar | load avg (1/5/15) before | total s | median ms | p90 ms | max ms | "
              "serialization lines | retries | other ERROR | CPU busy during run |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for flow in "AB":
            for d in sorted(rs, key=lambda d: (d["round"], d["cond"] != "stopped")):
                for f in (d["flows"] or {}).get("flows", []):
                    if f["flow"] != flow:
                        continue
                    lg = f["log"]
                    la = " / ".join(f"{x:.2f}" for x in f["loadavg_before"])
                    print(f"| {flow} | {d['round']} | {d['cond']} | {la} | {f['total_s']:.2f} | {f['iteration_median_ms']:.1f} | "
                          f"{f['iteration_p90_ms']:.1f} | {f['iteration_max_ms']:.1f} | {lg['serialization_lines']} | "
                          f"{lg['retries']} | {lg['other_error_records']} | {d['cpu_busy_pct']:.0f} % |")
        for flow in "AB":
            for cond in ("stopped", "running"):
                med = [f["iteration_median_ms"] for d in rs if d["cond"] == cond
                       for f in (d["flows"] or {}).get("flows", []) if f["flow"] == flow]
                if med:
                    print(f"median of medians flow {flow} {cond}: {statistics.median(med):.1f} ms ({len(med)} runs)")
        print()
        print("| run | gate | whole window: serialization lines / retries / other ERROR | sends at the emulator (messages + media) "
              "| records (orders + invoices) | messages rows: sent-or-later / all | records missing a notification | flags at poller end "
              "| CPU s sidecar / Odoo |")
        print("|---|---|---|---|---|---|---|---|---|")
        for d in rs:
            w, g, poll = d["odoo_log_window"], d["gate"], d["poll"]
            gate = f"{'passed' if g['passed'] else 'RAN ANYWAY'} after {g['waited_s']:.0f} s"
            recs = poll["records"] if poll else []
            n_so = sum(r["model"] == "sale.order" for r in recs)
            n_am = len(recs) - n_so
            msgs = [m for r in recs for m in r["messages"]]
            sent = sum(m["status"] in ("sent", "delivered", "read") for m in msgs)
            flagged = sum(all(k in r["seen"] for k in FLAGS[r["model"]]) for r in recs)
            missing = sum(not KINDS[r["model"]] <= {m["kind"] for m in r["messages"]} for r in recs)
            es = d["emulator_sends"]
            cpu = d.get("cpu_s_during_flows") or {}
            cpus = " / ".join("-" if cpu.get(k) is None else f"{cpu[k]:.1f}" for k in ("sidecar", "odoo")) if cpu else "n/a"
            print(f"| {d['cond']} {d['round']} | {gate} | {w['serialization_lines']} / {w['retries']} / {w['other_error_records']} | "
                  f"{es['messages']} + {es['media']} | {n_so} + {n_am} | {sent} / {len(msgs)} | "
                  f"{missing if d['cond'] == 'running' else '(sent later)'} | {flagged} / {len(recs)} | {cpus} |")
        # Delays: only the running runs' records, the paced partner aside.
        delays = {}
        waits = {}
        for d in rs:
            if d["cond"] != "running" or not d["poll"]:
                continue
            for r in d["poll"]["records"]:
                if r["partner_id"] == args.paced_partner and table != "t1":
                    continue
                se = r["seen_epoch"]
                for flag, ref in FLAGS[r["model"]].items():
                    if flag in se and ref in se:
                        delays.setdefault(flag, []).append(se[flag] - se[ref])
        if delays:
            print("\nflag visible after the Odoo commit it follows (poller, 50 ms sampling), running runs:")
            print("| flag | after | n | p50 s | p90 s | max s |")
            print("|---|---|---|---|---|---|")
            for model, fl in FLAGS.items():
                for flag, ref in fl.items():
                    v = delays.get(flag)
                    if v:
                        print(f"| {COLUMNS[flag]} | {ref} | {len(v)} | {statistics.median(v):.2f} | {pct(v, 90):.2f} | {max(v):.2f} |")
            allv = [x for v in delays.values() for x in v]
            print(f"| all | | {len(allv)} | {statistics.median(allv):.2f} | {pct(allv, 90):.2f} | {max(allv):.2f} |")
    if args.final:
        so = sorted({r["id"] for d in runs if d["poll"] for r in d["poll"]["records"] if r["model"] == "sale.order"})
        am = sorted({r["id"] for d in runs if d["poll"] for r in d["poll"]["records"] if r["model"] == "account.move"})
        if so:
            print("\nnow, orders of the runs: all / creation_sent / state_sent / confirmed:",
                  psql(f"SELECT count(*), count(*) FILTER (WHERE x_whatsapp_creation_sent), count(*) FILTER (WHERE x_whatsapp_state_sent), "
                       f"count(*) FILTER (WHERE state = 'sale') FROM sale_order WHERE id = ANY('{{{','.join(map(str, so))}}}')")[0])
        if am:
            print("now, invoices of the runs: all / invoice_sent / residual_sent / paid:",
                  psql(f"SELECT count(*), count(*) FILTER (WHERE x_whatsapp_invoice_sent), count(*) FILTER (WHERE x_whatsapp_residual_sent), "
                       f"count(*) FILTER (WHERE payment_state IN ('paid', 'in_payment')) FROM account_move WHERE id = ANY('{{{','.join(map(str, am))}}}')")[0])
        print("whatsapp_message out rows by status:", psql("SELECT status || ':' || count(*) FROM whatsapp_message WHERE direction = 'out' GROUP BY status"))


if __name__ == "__main__":
    main()
