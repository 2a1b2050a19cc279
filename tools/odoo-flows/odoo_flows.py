#!/usr/bin/env python3
"""Time Odoo 16's own business flows through XML-RPC, the way an integration drives them.

  flow A: N times, create a quotation (sale.order, one line), then action_confirm on it.
  flow B: N times, create a customer invoice (account.move out_invoice, one line), action_post
          it, then register its full payment (account.payment.register wizard, created with
          context active_model=account.move / active_ids=[id], then action_create_payments).

Calls are back to back, one client, no think time. For each flow it prints the total wall time,
the per-iteration median and p90, and what Odoo's log file got during that flow: lines saying
"could not serialize access due to concurrent update", Odoo's retry notices, and other ERROR /
CRITICAL records. Python 3 standard library only; needs no Odoo source.

Run `odoo_flows.py --help`; see README.md beside this file for A/B comparisons.
"""
import argparse
import json
import os
import re
import socket
import statistics
import sys
import time
import xmlrpc.client

SERIALIZATION = "could not serialize access due to concurrent update"
# Odoo's log record header: "2026-12-01 07:50:20,415 15166 INFO odoo16 odoo.sql_db: message"
RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ (\w+) (\S+) (\S+): ?(.*)$")
RETRY = re.compile(r"\b[A-Z_]+, (\d+ tries left|maximum number of tries reached)")


class Odoo:
    def __init__(self, url, db, user, password, timeout):
        self.url, self.db, self.password = url.rstrip("/"), db, password
        socket.setdefaulttimeout(timeout)
        common = xmlrpc.client.ServerProxy(self.url + "/xmlrpc/2/common")
        self.version = common.version().get("server_version")
        self.uid = common.authenticate(db, user, password, {})
        if not self.uid:
            raise SystemExit(f"cannot log in to {self.url} db={db} as {user}")
        self.obj = xmlrpc.client.ServerProxy(self.url + "/xmlrpc/2/object", allow_none=True)

    def __call__(self, model, method, *args, **kw):
        return self.obj.execute_kw(self.db, self.uid, self.password, model, method, list(args), kw)

    def xmlid(self, module, name):
        r = self("ir.model.data", "search_read", [["module", "=", module], ["name", "=", name]], fields=["res_id"])
        return r[0]["res_id"] if r else None


class LogWindow:
    """The part of Odoo's log file written between start() and read()."""

    def __init__(self, path):
        self.path, self.offset = path, 0

    def start(self):
        self.offset = os.path.getsize(self.path) if self.path and os.path.exists(self.path) else 0

    def read(self):
        if not self.path or not os.path.exists(self.path):
            return None
        with open(self.path, "rb") as f:
            if os.path.getsize(self.path) < self.offset:  # rotated or truncated: read it all
                self.offset = 0
            f.seek(self.offset)
            data = f.read()
        return summarize_log(data.decode("utf-8", "replace").splitlines())


def summarize_log(lines):
    records, cur = [], None
    for line in lines:
        m = RECORD.match(line)
        if m:
            cur = {"level": m.group(1), "logger": m.group(3), "lines": [line]}
            records.append(cur)
        elif cur is not None:
            cur["lines"].append(line)
        else:  # continuation of a record that started before the window
            records.append({"level": "?", "logger": "?", "lines": [line]})
    out = {
        "lines": len(lines),
        "serialization_lines": sum(SERIALIZATION in l for l in lines),
        "serialization_error_records": 0,
        "retries": 0,
        "retries_exhausted": 0,
        "other_error_records": 0,
        "other_errors": [],
        "warning_records": 0,
        "warnings": [],
    }
    for r in records:
        text = "\n".join(r["lines"])
        m = RETRY.search(r["lines"][0])
        if m:
            out["retries_exhausted" if m.group(1).startswith("maximum") else "retries"] += 1
        if r["level"] == "WARNING":
            out["warning_records"] += 1
            if len(out["warnings"]) < 5:
                out["warnings"].append(r["lines"][0][:300])
        if r["level"] in ("ERROR", "CRITICAL"):
            if SERIALIZATION in text:
                out["serialization_error_records"] += 1
            else:
                out["other_error_records"] += 1
                if len(out["other_errors"]) < 10:
                    out["other_errors"].append("\n".join(r["lines"][:3])[:600])
    return out


def pick_partners(odoo, args):
    """The customers, cycled through by the iterations: [(id, name, mobile)], and how many
    mobiles were written. The first is --partner-id (default base.res_partner_12); with
    --customers K > 1, K-1 more partners that are neither users nor companies of the database
    follow (created as "odoo-flows customer <i>" when there are too few), each with a mobile of
    its own (+221 77 300 xx xx)."""
    pid = args.partner_id or odoo.xmlid("base", "res_partner_12")
    if not pid:
        ids = odoo("res.partner", "search", [["customer_rank", ">", 0]], limit=1, order="id")
        pid = ids[0] if ids else odoo("res.partner", "search", [["is_company", "=", True]], limit=1, order="id")[0]
    ids = [pid]
    if args.customers > 1:
        companies = [c["partner_id"][0] for c in odoo("res.company", "search_read", [], fields=["partner_id"])]
        ids += odoo("res.partner", "search", [["user_ids", "=", False], ["id", "not in", companies + [pid]]],
                    limit=args.customers - 1, order="id")
        for i in range(len(ids), args.customers):  # too few: create the rest, found again next time
            ids.append(odoo("res.partner", "create", {"name": f"odoo-flows customer {i}"}))
    out, written = [], 0
    recs = {r["id"]: r for r in odoo("res.partner", "read", ids, ["name", "mobile"])}
    for i, p in enumerate(recs[k] for k in ids):
        want = (args.mobile if i == 0 else f"+221 77 300 {i // 100:02d} {i % 100:02d}") if args.mobile else p["mobile"]
        if want != p["mobile"]:
            odoo("res.partner", "write", [p["id"]], {"mobile": want})
            written += 1
        out.append((p["id"], p["name"], want))
    return out, written


def pick_product(odoo, args):
    pid = args.product_id or odoo.xmlid("product", "product_product_6")
    if not pid:
        pid = odoo("product.product", "search", [["sale_ok", "=", True]], limit=1, order="id")[0]
    return pid, odoo("product.product", "read", [pid], ["display_name"])[0]["display_name"]


def flow_a(odoo, partner, product, pause=0):
    """One quotation, then its confirmation: two calls (pause seconds apart: a person's click)."""
    t0 = time.perf_counter()
    so = odoo("sale.order", "create", {"partner_id": partner,
                                        "order_line": [(0, 0, {"product_id": product, "product_uom_qty": 1})]})
    time.sleep(pause)
    t1 = time.perf_counter()
    odoo("sale.order", "action_confirm", [so])
    t2 = time.perf_counter()
    return so, {"create": t1 - t0, "action_confirm": t2 - t1}


def flow_b(odoo, partner, product, pause=0):
    """One customer invoice, posted, then paid in full through the wizard: four calls (the
    payment pause seconds after the posting: a person's click)."""
    t0 = time.perf_counter()
    mv = odoo("account.move", "create", {"move_type": "out_invoice", "partner_id": partner,
                                          "invoice_line_ids": [(0, 0, {"product_id": product, "quantity": 1})]})
    t1 = time.perf_counter()
    odoo("account.move", "action_post", [mv])
    time.sleep(pause)
    t2 = time.perf_counter()
    ctx = {"active_model": "account.move", "active_ids": [mv]}
    wiz = odoo("account.payment.register", "create", {}, context=ctx)
    odoo("account.payment.register", "action_create_payments", [wiz], context=ctx)
    t3 = time.perf_counter()
    return mv, {"create": t1 - t0, "action_post": t2 - t1, "register_payment": t3 - t2}


FLOWS = {
    "A": ("quotation create + action_confirm", flow_a),
    "B": ("invoice create + action_post + full payment (account.payment.register)", flow_b),
}


def pct(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    s = sorted(values)
    k = max(1, -(-len(s) * p // 100))  # ceil(n*p/100), at least 1
    return s[int(k) - 1]


def run_flow(odoo, name, n, warmup, partners, product, logw, pause=0):
    title, fn = FLOWS[name]
    for i in range(warmup):
        fn(odoo, partners[i % len(partners)], product, pause)
    load = os.getloadavg()
    logw.start()
    iters, steps, faults, ids = [], {}, [], []
    start = time.perf_counter()
    for i in range(n):
        t = time.perf_counter()
        try:
            rid, st = fn(odoo, partners[i % len(partners)], product, pause)
            ids.append(rid)
            for k, v in st.items():
                steps.setdefault(k, []).append(v)
        except xmlrpc.client.Fault as e:
            faults.append({"iteration": i, "fault": e.faultString.strip().splitlines()[-1][:300]})
        iters.append(time.perf_counter() - t)
    total = time.perf_counter() - start
    time.sleep(0.2)  # let the last log records reach the file
    load_after = os.getloadavg()
    ms = lambda v: round(v * 1000, 1)
    return {
        "flow": name,
        "title": title,
        "n": n,
        "warmup": warmup,
        "customers": len(partners),
        "pause_s": pause,
        "loadavg_before": [round(x, 2) for x in load],
        "loadavg_after": [round(x, 2) for x in load_after],
        "total_s": round(total, 3),
        "iteration_median_ms": ms(statistics.median(iters)),
        "iteration_p90_ms": ms(pct(iters, 90)),
        "iteration_min_ms": ms(min(iters)),
        "iteration_max_ms": ms(max(iters)),
        "step_median_ms": {k: ms(statistics.median(v)) for k, v in steps.items()},
        "faults": faults,
        "first_id": ids[0] if ids else None,
        "last_id": ids[-1] if ids else None,
        "log": logw.read(),
    }


def text_report(res, out):
    lg = res["log"]
    print(f"flow {res['flow']} ({res['title']}), N={res['n']}, customers {res['customers']}, load avg before "
          f"{' '.join(map(str, res['loadavg_before']))}, after {' '.join(map(str, res['loadavg_after']))}", file=out)
    print(f"  total {res['total_s']:.2f} s; per iteration median {res['iteration_median_ms']:.1f} ms, "
          f"p90 {res['iteration_p90_ms']:.1f} ms (min {res['iteration_min_ms']:.1f}, max {res['iteration_max_ms']:.1f})",
          file=out)
    print("  step medians: " + ", ".join(f"{k} {v:.1f} ms" for k, v in res["step_median_ms"].items()), file=out)
    if res["faults"]:
        print(f"  FAULTS: {len(res['faults'])}; first: {res['faults'][0]['fault']}", file=out)
    if lg is None:
        print("  log: not readable (see --log)", file=out)
        return
    print(f"  log: {lg['serialization_lines']} '{SERIALIZATION}' lines "
          f"({lg['serialization_error_records']} ERROR records), {lg['retries']} retries, "
          f"{lg['retries_exhausted']} retries exhausted, {lg['other_error_records']} other ERROR/CRITICAL records, {lg['warning_records']} WARNING records",
          file=out)
    for e in lg["other_errors"]:
        print("    " + e.replace("\n", "\n    "), file=out)
    for w in lg["warnings"]:
        print("    " + w, file=out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=os.environ.get("ODOO_URL", "http://127.0.0.1:8069"))
    ap.add_argument("--db", default=os.environ.get("ODOO_DB", "odoo16"))
    ap.add_argument("--user", default=os.environ.get("ODOO_USER", "admin"))
    ap.add_argument("--password", default=os.environ.get("ODOO_PASSWORD", "admin"))
    ap.add_argument("--flow", default="AB", help="A, B or AB (A then B); default AB")
    ap.add_argument("-n", "--n", type=int, default=40, help="iterations per flow (default 40)")
    ap.add_argument("--warmup", type=int, default=1,
                    help="untimed iterations before each flow, outside the log window (default 1)")
    ap.add_argument("--log", default="/tmp/odoo16.log", help="Odoo's log file (default /tmp/odoo16.log); '' for none")
    ap.add_argument("--partner-id", type=int, help="customer (default: demo partner base.res_partner_12)")
    ap.add_argument("--mobile", default="+221 77 123 45 67",
                    help="mobile written on the customer first if it differs ('' to leave the mobiles as they are)")
    ap.add_argument("--customers", type=int, default=1,
                    help="cycle through K customers, each with its own Senegal mobile (default 1)")
    ap.add_argument("--product-id", type=int, help="product of the one line (default: product.product_product_6)")
    ap.add_argument("--pause", type=float, default=0,
                    help="seconds between an iteration's two clicks (create -> confirm, post -> pay), "
                         "inside its timing; default 0: back to back")
    ap.add_argument("--label", default="", help="free text copied into the output (e.g. 'sidecar running')")
    ap.add_argument("--timeout", type=float, default=120, help="seconds per XML-RPC call (default 120)")
    ap.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    args = ap.parse_args()
    flows = [f for f in args.flow.upper() if f in FLOWS]
    if not flows or len(flows) != len(args.flow):
        ap.error("--flow takes A, B or AB")
    if args.n < 1 or args.customers < 1:
        ap.error("-n and --customers take a positive number")
    if args.pause < 0:
        ap.error("--pause takes zero or more seconds")

    odoo = Odoo(args.url, args.db, args.user, args.password, args.timeout)
    partners, written = pick_partners(odoo, args)
    ids = [p[0] for p in partners]
    product, prname = pick_product(odoo, args)
    logw = LogWindow(args.log)
    doc = {"label": args.label, "url": args.url, "db": args.db, "server_version": odoo.version,
           "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "customers": [list(p) for p in partners],
           "mobiles_written": written, "product": [product, prname], "log_file": args.log, "flows": []}
    if not args.json:
        first = partners[0]
        more = f" and {len(partners) - 1} more" if len(partners) > 1 else ""
        print(f"Odoo {odoo.version} at {args.url} db={args.db}; customer {first[0]} {first[1]!r} mobile {first[2]!r}"
              f"{more}{f' ({written} mobiles written now)' if written else ''}; product {product} {prname!r}"
              f"{'; ' + args.label if args.label else ''}")
    for f in flows:
        res = run_flow(odoo, f, args.n, args.warmup, ids, product, logw, args.pause)
        doc["flows"].append(res)
        if not args.json:
            text_report(res, sys.stdout)
            sys.stdout.flush()
    if args.json:
        json.dump(doc, sys.stdout, indent=2)
        print()


if __name__ == "__main__":
    main()
