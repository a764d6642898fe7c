#!/usr/bin/env python3
"""scripts/soak.sh's verdict: reads the run's files (the load generator's
interval lines, the events, the admin writes and their verification) and
prints the figures of docs/reliability.md; writes summary.json beside them.
Exit status 1 when a requirement is not met."""

import json
import os
import sys

work = sys.argv[1]


def lines(name):
    with open(os.path.join(work, name)) as f:
        return [json.loads(l) for l in f if l.strip()]


events = {e["event"]: e for e in lines("events.jsonl")}
soak = lines("soak.jsonl")
intervals = [l for l in soak if l["kind"] == "interval"]
total = next(l for l in soak if l["kind"] == "soak")
capacity = lines("capacity.jsonl")[-1]
t0 = events["soak_start"]["unix_ms"]
steady_s = events["capacity"]["steady_s"]
pg_stop = events["pg_stop_begin"]["unix_ms"]
pg_stopped = events["pg_stopped"]["unix_ms"]
pg_start_begin = events["pg_start_begin"]["unix_ms"]
pg_started = events["pg_started"]["unix_ms"]
kill = events["kill_b"]["unix_ms"]
KINDS = ("client_secret_basic", "private_key_jwt")


def end_ms(i):
    return i["unix_ms"]


def begin_ms(i):
    return i["unix_ms"] - int(i["seconds"] * 1000)


def window(lo, hi):
    """Intervals lying wholly within [lo, hi] (unix ms)."""
    return [i for i in intervals if begin_ms(i) >= lo and end_ms(i) <= hi]


def buckets(ivs, instance=None, kind=None):
    for i in ivs:
        for b in i["buckets"]:
            if (instance is None or b["instance"] == instance) and (kind is None or b["kind"] == kind):
                yield b


def sum_counts(bs):
    ok = failed = 0
    status, transport = {}, {}
    worst_ok = worst_failed = 0.0
    for b in bs:
        ok += b["ok"]
        failed += b["failed"]
        for k, v in b["status"].items():
            status[k] = status.get(k, 0) + v
        for k, v in b["transport"].items():
            transport[k] = transport.get(k, 0) + v
        if b["ok_latency_ms"]:
            worst_ok = max(worst_ok, b["ok_latency_ms"]["max"])
        if b["failed_latency_ms"]:
            worst_failed = max(worst_failed, b["failed_latency_ms"]["max"])
    return {"ok": ok, "failed": failed, "status": status, "transport": transport,
            "ok_latency_max_ms": worst_ok, "failed_latency_max_ms": worst_failed}


def p99s(bs, key):
    return [b[key]["p99"] for b in bs if b[key]]


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else None


checks = []


def check(name, ok, detail):
    checks.append({"check": name, "pass": bool(ok), "detail": detail})


# --- steady phase -----------------------------------------------------------------
steady = window(t0, t0 + steady_s * 1000)
st = sum_counts(buckets(steady))
five = sum(v for k, v in st["status"].items() if k.startswith("5"))
secs = sum(i["seconds"] for i in steady)
rss = [[i["rss_kib"][k] for i in steady] for k in range(2)]
# Flat: no upward trend after warm-up. The median RSS of the steady phase's
# last fifth is within 10 % of the median of its second fifth (the first
# fifth is warm-up: caches filled, pools and buffers at size). Medians, so a
# transient (a burst of connections after a hiccup) is not a trend; the
# maximum is reported beside them.
rss_check = []
for k, samples in enumerate(rss):
    samples = [s for s in samples if s]
    n = len(samples)
    second = median(samples[n // 5: 2 * n // 5])
    last = median(samples[4 * n // 5:])
    growth = (last - second) / second
    rss_check.append({"instance": "AB"[k], "start_kib": samples[0], "second_fifth_median_kib": second,
                      "middle_kib": samples[n // 2], "last_fifth_median_kib": last, "end_kib": samples[-1],
                      "max_kib": max(samples), "growth_pct": round(100 * growth, 2)})
    # Over a short steady phase (--quick) the RSS is still warming up: shown, not judged.
    short = steady_s < 120
    check(f"RSS flat, instance {'AB'[k]}", growth < 0.10 or short,
          f"median {second} KiB (2nd fifth) -> {last} KiB (last fifth), {100 * growth:+.1f} %; "
          f"start {samples[0]}, end {samples[-1]}, max {max(samples)} KiB"
          + (" (informative only: steady phase under 120 s)" if short else ""))
check("zero 5xx in the steady phase", five == 0 and st["transport"] == {},
      f"{st['ok']} tokens, {st['failed']} failures: {st['status']} {st['transport']}")
ok_p99 = p99s(buckets(steady), "ok_latency_ms")
steady_summary = {
    "seconds": round(secs, 1), "rate_offered": events["capacity"]["rate"],
    "tokens": st["ok"], "tokens_per_s": round(st["ok"] / max(secs, 1e-9)),
    "failed": st["failed"], "status": st["status"], "transport": st["transport"],
    "p99_ms_median_interval": median(ok_p99), "p99_ms_worst_interval": max(ok_p99 or [0]),
    "latency_max_ms": st["ok_latency_max_ms"],
    "by_kind": {k: sum_counts(buckets(steady, kind=k))["ok"] for k in KINDS},
    "rss": rss_check,
    "shed": sum(i["shed"] for i in steady),
}

# --- PostgreSQL down ------------------------------------------------------------------------
down = window(pg_stopped, pg_start_begin)
outage = {"down_s": round((pg_start_begin - pg_stopped) / 1000, 1),
          "pg_start_wait_s": round((pg_started - pg_start_begin) / 1000, 2)}
for k in KINDS:
    outage[k] = sum_counts(buckets(down, kind=k))
jwt = outage["private_key_jwt"]
non503 = {s: v for s, v in jwt["status"].items() if not s.startswith("503")}
outage["private_key_jwt_failed_p99_ms_worst_interval"] = max(p99s(buckets(down, kind="private_key_jwt"), "failed_latency_ms") or [0])
check("503 temporarily_unavailable while PostgreSQL is down (no 500, no hang)",
      jwt["status"].get("503 temporarily_unavailable", 0) > 0 and not non503 and not jwt["transport"]
      and jwt["failed_latency_max_ms"] < 5000,
      f"private_key_jwt: {jwt['status']} {jwt['transport']}, slowest failure {jwt['failed_latency_max_ms']} ms")
around = window(pg_stop, pg_started + 10_000)
all_status = sum_counts(buckets(around))["status"]
check("no 500 around the restart", not any(s.startswith("500") for s in all_status), str(all_status))
readyz = {}
for b in "AB":
    try:
        with open(os.path.join(work, f"readyz-outage-{b}.status")) as f:
            code, took = f.read().split()
        with open(os.path.join(work, f"readyz-outage-{b}.json")) as f:
            readyz[b] = {"status": int(code), "seconds": float(took), "body": json.loads(f.read() or "null")}
    except (OSError, ValueError) as e:
        readyz[b] = {"error": str(e)}
outage["readyz"] = readyz

# Recovery: from PostgreSQL accepting connections again (pg_ctl start -w
# returned) to the end of the last interval in which a private_key_jwt
# request failed (before the kill); 0 when none failed after it returned.
# Requests are counted when they end, so a request waiting for a connection
# when PostgreSQL came back and then served counts as a success.
after = [i for i in intervals if end_ms(i) <= kill and end_ms(i) > pg_stopped]
failing = [i for i in after if sum_counts(buckets([i], kind="private_key_jwt"))["failed"]]
last_failure = max((end_ms(i) for i in failing), default=None)
recovery_s = None if last_failure is None else round(max(0, last_failure - pg_started) / 1000, 2)
outage["recovery_s"] = recovery_s
outage["last_failure_after_pg_start_command_s"] = None if last_failure is None else round((last_failure - pg_start_begin) / 1000, 2)
tail = [i for i in intervals if begin_ms(i) >= pg_started + (recovery_s or 0) * 1000 and end_ms(i) <= kill]
outage["after_recovery_until_kill"] = {"tokens_per_s": round(sum_counts(buckets(tail))["ok"] / max(sum(i["seconds"] for i in tail), 1e-9)),
                                       "failed": sum_counts(buckets(tail))["failed"],
                                       "p99_ms_worst_interval": max(p99s(buckets(tail), "ok_latency_ms") or [0])}
check("recovered within 5 s of PostgreSQL returning", last_failure is not None and recovery_s <= 5,
      f"last private_key_jwt failure {recovery_s} s after pg_ctl start -w returned "
      f"({outage['last_failure_after_pg_start_command_s']} s after the command began)")

# --- admin writes -----------------------------------------------------------------------------
writes = []
with open(os.path.join(work, "admin-verify.txt")) as f:
    for l in f:
        ts, inst, wid, code, took, api, rows = l.split()
        writes.append({"unix_ms": int(ts), "instance": inst, "id": wid, "code": int(code),
                       "seconds": float(took), "api": int(api), "rows": int(rows or 0)})
acked = [w for w in writes if w["code"] == 201]
lost = [w for w in acked if w["api"] != 200 or w["rows"] != 1]
refused = [w for w in writes if w["code"] != 201]
acked_before_stop = [w for w in acked if w["unix_ms"] <= pg_stopped]
admin = {"attempted": len(writes), "acknowledged": len(acked),
         "acknowledged_before_stop": len(acked_before_stop),
         "last_ack_before_stop_ms": (pg_stop - max(w["unix_ms"] for w in acked_before_stop)) if acked_before_stop else None,
         "refused": {str(c): sum(1 for w in refused if w["code"] == c) for c in sorted({w["code"] for w in refused})},
         "refused_slowest_s": max((w["seconds"] for w in refused), default=None),
         "refused_but_present": sum(1 for w in refused if w["rows"]),
         "lost": len(lost)}
check("no acknowledged admin write lost", not lost and acked_before_stop, f"{admin}")
check("admin writes refused with 503 while down",
      all(w["code"] == 503 for w in refused), f"{admin['refused']}")

# --- kill -9 of instance B ------------------------------------------------------------------
post = [i for i in intervals if begin_ms(i) >= kill]
pre = window(pg_started + 8_000, kill)
surv_post = sum_counts(buckets(post, instance=0))
surv_pre = sum_counts(buckets(pre, instance=0))
dead_post = sum_counts(buckets(post, instance=1))
post_s = sum(i["seconds"] for i in post)
pre_s = sum(i["seconds"] for i in pre)
killed = {"survivor_before": {"tokens_per_s": round(surv_pre["ok"] / max(pre_s, 1e-9)), "failed": surv_pre["failed"],
                              "p99_ms_worst_interval": max(p99s(buckets(pre, instance=0), "ok_latency_ms") or [0])},
          "survivor_after": {"tokens_per_s": round(surv_post["ok"] / max(post_s, 1e-9)), "failed": surv_post["failed"],
                             "status": surv_post["status"], "transport": surv_post["transport"],
                             "p99_ms_worst_interval": max(p99s(buckets(post, instance=0), "ok_latency_ms") or [0])},
          "killed_instance_after": {"ok": dead_post["ok"], "failed": dead_post["failed"], "transport": dead_post["transport"]},
          "seconds_after": round(post_s, 1)}
check("the other instance keeps serving after kill -9", surv_post["ok"] > 0 and surv_post["failed"] == 0,
      json.dumps(killed["survivor_after"]))

summary = {"capacity": {"closed_loop_64_tokens_per_s": capacity["ok_per_s"], "load": events["capacity"]["rate"]},
           "steady": steady_summary, "outage": outage, "admin_writes": admin, "kill": killed,
           "run": {"sent": total["sent"], "elapsed_s": total["elapsed_s"], "clients": total["clients"],
                   "tenants": total["tenants"], "examples": total["examples"]},
           "checks": checks}
with open(os.path.join(work, "summary.json"), "w") as f:
    json.dump(summary, f, indent=1)
print(json.dumps({k: v for k, v in summary.items() if k != "checks"}, indent=1))
for c in checks:
    print(f"{'PASS' if c['pass'] else 'FAIL'}  {c['check']}: {c['detail']}")
sys.exit(0 if all(c["pass"] for c in checks) else 1)
