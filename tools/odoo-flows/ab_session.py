#!/usr/bin/env python3
"""Sidecar stopped vs running, alternated, as BENCHMARKS.md's protocol says, on one machine.

For each round, for each condition (stopped, then running):
  1. put the sidecar in the condition: start it (after /readyz answers) or stop it (SIGTERM,
     waited for), then wait --settle seconds (10);
  2. quiet gate: wait until the 1-minute load average is below 1.0 and the CPUs less than 15 %
     busy over 5 s, at most --gate-max seconds (600), and note whether it ran anyway;
  3. start flag_poller.py, then run odoo_flows.py under `flock -x /work/machine.lock` (one
     flows run per hold), recording the CPUs' busy share over the command;
  4. running: tell the poller the flows are done and let it wait for every flag (at most 120 s);
     stopped: stop the poller at once. Then record the emulator's send requests and Odoo's log
     over the whole window (poller start to end).

One JSON per run in --out (run-<label>.json); summarize.py turns them into tables.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import odoo_flows  # noqa: E402  (summarize_log, the same counting as the tool's)

LOCK = "/work/machine.lock"


def cpu_times():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v), idle


def busy_between(a, b):
    total, idle = b[0] - a[0], b[1] - a[1]
    return 100.0 * (total - idle) / total if total else 0.0


def gate(max_wait, log):
    start = time.time()
    while True:
        a = cpu_times()
        time.sleep(5)
        busy = busy_between(a, cpu_times())
        la = os.getloadavg()
        waited = time.time() - start
        if la[0] < 1.0 and busy < 15:
            return {"passed": True, "waited_s": round(waited, 1), "loadavg": la, "busy_5s": round(busy, 1)}
        if waited > max_wait:
            log(f"gate: ran anyway after {waited:.0f} s (load {la[0]:.2f}, busy {busy:.0f} %)")
            return {"passed": False, "waited_s": round(waited, 1), "loadavg": la, "busy_5s": round(busy, 1)}


class Sidecar:
    def __init__(self, args, log):
        self.args, self.log, self.proc, self.n = args, log, None, 0

    def env(self):
        e = dict(os.environ)
        e.update({"DATABASE_URL": self.args.database_url,
                  "WHATSAPP_API_URL": f"http://{self.args.emulator}/v21.0",
                  "WEBHOOK_ADDR": "127.0.0.1:8092", "METRICS_ADDR": "127.0.0.1:9465"})
        return e

    def start(self):
        self.n += 1
        out = open(os.path.join(self.args.out, f"sidecar-{int(time.time())}.log"), "w")
        self.proc = subprocess.Popen([self.args.sidecar, "run"], env=self.env(), stdout=out, stderr=subprocess.STDOUT)
        t0 = time.time()
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"sidecar exited at start: {self.proc.returncode}")
            try:
                if urllib.request.urlopen("http://127.0.0.1:9465/readyz", timeout=2).status == 200:
                    break
            except Exception:
                pass
            time.sleep(0.2)
        self.log(f"sidecar pid {self.proc.pid} ready in {time.time() - t0:.1f} s")

    def stop(self):
        if not self.proc:
            return
        t0 = time.time()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait()
        self.log(f"sidecar pid {self.proc.pid} stopped in {time.time() - t0:.1f} s (rc {self.proc.returncode})")
        self.proc = None


def emulator_sends(emulator, t_from, t_to):
    """POST .../messages and .../media requests the emulator got between two UTC ISO times."""
    reqs = json.load(urllib.request.urlopen(f"http://{emulator}/_emulator/requests", timeout=30))
    if isinstance(reqs, dict):
        reqs = reqs.get("requests") or reqs.get("data") or []
    out = {"messages": 0, "media": 0, "other": 0}
    for r in reqs:
        t = r["time"][:23]
        if not (t_from <= t <= t_to) or r.get("method") != "POST":
            continue
        p = r.get("path", "")
        out["messages" if p.endswith("/messages") else "media" if p.endswith("/media") else "other"] += 1
    return out


def proc_cpu_s(line):
    """utime + stime of a /proc/<pid>/stat line, in seconds (None for '-')."""
    if line.strip() == "-":
        return None
    f = line.rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def run_one(args, cond, rnd, log, sidecar_pid):
    label = f"{args.table} {cond} round {rnd}"
    base = os.path.join(args.out, f"run-{args.table}-{cond}-{rnd}")
    g = gate(args.gate_max, log)
    log(f"{label}: gate {g}")
    log_off = os.path.getsize(args.odoo_log)
    poller = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "flag_poller.py"), "--out", base + ".poll.json",
                               "--until-flagged", str(args.flag_wait)], stdout=subprocess.PIPE, text=True)
    poller.stdout.readline()  # ready
    t_start = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000"
    flows = ["python3", os.path.join(HERE, "odoo_flows.py"), "--json", "--label", label,
             "--customers", str(args.customers), "-n", str(args.n)] + (["--pause", str(args.pause)] if args.pause else [])
    # The CPUs' busy share is read inside the lock, around the flows alone.
    # So are the CPU seconds of the sidecar and of Odoo (/proc/<pid>/stat utime + stime).
    inner = ('snap() { head -1 /proc/stat; for p in $SIDECAR_PID $ODOO_PID; do cat /proc/$p/stat 2>/dev/null || echo -; done; }; '
             'snap > "$0.stat0"; "$@"; rc=$?; snap > "$0.stat1"; exit $rc')
    env = dict(os.environ, SIDECAR_PID=str(sidecar_pid or 0), ODOO_PID=open(args.odoo_pid).read().strip())
    t_lock = time.time()
    with open(base + ".flows.json", "w") as f:
        rc = subprocess.call(["flock", "-x", LOCK, "sh", "-c", inner, base] + flows, stdout=f, env=env)
    stat, procs = [], []
    for suffix in (".stat0", ".stat1"):
        lines = open(base + suffix).read().splitlines()
        v = [int(x) for x in lines[0].split()[1:]]
        stat.append((sum(v), v[3] + v[4]))
        procs.append([proc_cpu_s(line) for line in lines[1:3]])
    busy = busy_between(*stat)
    cpu_s = {name: (round(b - a, 2) if a is not None and b is not None else None)
             for name, a, b in zip(("sidecar", "odoo"), procs[0], procs[1])}
    lock_wait = time.time() - t_lock
    if rc != 0:
        log(f"{label}: flows exited {rc}")
    if cond == "running":
        poller.send_signal(signal.SIGUSR1)
    else:
        poller.send_signal(signal.SIGTERM)
    poller.wait()
    time.sleep(0.3)
    t_end = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".999"
    with open(args.odoo_log, "rb") as f:
        f.seek(log_off)
        window = odoo_flows.summarize_log(f.read().decode("utf-8", "replace").splitlines())
    doc = {"label": label, "table": args.table, "cond": cond, "round": rnd, "gate": g,
           "cpu_busy_pct": round(busy, 1), "cpu_s_during_flows": cpu_s, "lock_and_flows_s": round(lock_wait, 1), "window": [t_start, t_end], "odoo_log_window": window,
           "emulator_sends": emulator_sends(args.emulator, t_start, t_end),
           "flows": json.load(open(base + ".flows.json")) if rc == 0 else None}
    json.dump(doc, open(base + ".json", "w"), indent=1)
    fl = doc["flows"]["flows"] if doc["flows"] else []
    log(f"{label}: " + "; ".join(f"{x['flow']} total {x['total_s']} s median {x['iteration_median_ms']} ms "
                                 f"ser {x['log']['serialization_lines']} retries {x['log']['retries']}" for x in fl)
        + f"; window ser {window['serialization_lines']} retries {window['retries']}; busy {busy:.0f} %; "
          f"sends {doc['emulator_sends']}; cpu s {cpu_s}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--table", required=True, help="name of the series (t1, t2, lat0, human)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--first-round", type=int, default=1)
    ap.add_argument("--customers", type=int, default=1)
    ap.add_argument("-n", type=int, default=40, help="iterations per flow (odoo_flows.py -n)")
    ap.add_argument("--pause", type=float, default=0)
    ap.add_argument("--conds", default="stopped,running")
    ap.add_argument("--settle", type=float, default=10)
    ap.add_argument("--gate-max", type=float, default=600)
    ap.add_argument("--flag-wait", type=float, default=120)
    ap.add_argument("--sidecar", default="/tmp/odoomeasure/bin/whatsapp-sidecar")
    ap.add_argument("--database-url", default="postgres://root@/odoo16?host=/var/run/postgresql")
    ap.add_argument("--emulator", default="127.0.0.1:8091")
    ap.add_argument("--odoo-log", default="/tmp/odoo16.log")
    ap.add_argument("--odoo-pid", default="/tmp/odoo16.pid", help="file holding Odoo's pid (its CPU time is recorded)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--leave-running", action="store_true", help="do not stop the sidecar at the end")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    logf = open(os.path.join(args.out, "session.log"), "a")

    def log(msg):
        line = time.strftime("%H:%M:%S ") + msg
        print(line, flush=True)
        print(line, file=logf, flush=True)

    sc = Sidecar(args, log)
    try:
        for rnd in range(args.first_round, args.first_round + args.rounds):
            for cond in args.conds.split(","):
                if cond == "running" and not sc.proc:
                    sc.start()
                elif cond == "stopped":
                    sc.stop()
                time.sleep(args.settle)
                run_one(args, cond, rnd, log, sc.proc.pid if sc.proc else None)
    finally:
        if not args.leave_running:
            sc.stop()


if __name__ == "__main__":
    main()
