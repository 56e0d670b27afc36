#!/usr/bin/env python3
"""Results bookkeeping for run.sh: parse wrk output, collect results, render the markdown report.

    report.py wrk --backend B --workload W --check ok|FAILED [--proc P] [--mixed] OUT1.txt ...  >> results.jsonl
    report.py export --backend B --check ok SAMPLES.txt                                >> results.jsonl
    report.py add kind=ingest backend=B rows=N seconds=S ...                           >> results.jsonl
    report.py render results.jsonl [--meta key=value ...]                              > report.md

Every command that appends prints a one-line summary on stderr. `wrk --proc P` adds the server's
CPU time and peak RSS over the recorded runs (run.sh's wrk_series writes P); `wrk --mixed` reads
mixed.lua's status counts and exits 3 when an answer was neither 2xx nor 429. Standard library only.
"""

import argparse
import json
import re
import statistics
import sys

UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
WORKLOAD_ORDER = ["W1", "W2", "W2c", "W3", "W4", "W5", "W6"]
# the bare ceiling's answer to each workload: a 100-record page's bytes for the page workloads,
# a tiny JSON for one record and the aggregate (small bodies)
CEILING_OF = {"W1": "health", "W2": "W2", "W2key": "W2", "W2c": "W2", "W3": "W2", "W4": "W2", "W6": "health"}
# W2 again with a developer key in X-API-Key: key auth and the key's limiter on the hot path
# (run with the cache on only; issue 4's target is against the bare server's /page)
EXTRA_WORKLOADS = ["W2key"]
CEILING = "bare actix"


def to_ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not m:
        raise ValueError(f"cannot read latency {text!r}")
    return float(m.group(1)) * UNITS_MS[m.group(2)]


def parse_wrk(text):
    """One wrk --latency output → dict(rps, p50_ms, p99_ms, requests, non2xx, socket_errors)."""
    out = {"non2xx": 0, "socket_errors": 0}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if not m:
        raise ValueError("no 'Requests/sec' line: wrk did not finish")
    out["rps"] = float(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", text, re.M)
        out[key] = to_ms(m.group(1)) if m else None
    m = re.search(r"(\d+) requests in", text)
    out["requests"] = int(m.group(1)) if m else None
    if out["requests"] == 0:
        # wrk prints zero latencies when nothing completed: there is no latency to report
        out["p50_ms"] = out["p99_ms"] = None
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        out["socket_errors"] = sum(int(g) for g in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        out["non2xx"] = int(m.group(1))
    m = re.search(r"mixed status: 2xx=(\d+) 3xx=(\d+) 429=(\d+) 4xx=(\d+) 5xx=(\d+)", text)
    if m:
        out["status"] = dict(zip(("2xx", "3xx", "429", "4xx", "5xx"), map(int, m.groups())))
    return out


def parse_proc(path):
    """run.sh's NAME.proc: `cpu_ticks clk_tck wall_s hwm_kb rss_kb hwm_reset` → dict, or {}."""
    try:
        with open(path, encoding="utf-8") as f:
            p = f.read().split()
        ticks, clk, wall, hwm, rss, reset = int(p[0]), int(p[1]), float(p[2]), int(p[3]), int(p[4]), p[5] == "1"
    except (OSError, IndexError, ValueError):
        return {}
    cpu = ticks / clk if clk else 0.0
    return {"cpu_s": cpu, "cpu_pct": 100.0 * cpu / wall if wall > 0 else None, "wall_s": wall,
            "peak_rss_mb": (hwm if reset else max(hwm, rss)) / 1024, "rss_mb": rss / 1024, "hwm_reset": reset}


def median_run(runs):
    """The run with the median req/s (its own p50/p99 go with it)."""
    ordered = sorted(runs, key=lambda r: r["rps"])
    return ordered[(len(ordered) - 1) // 2]  # the lower middle one for an even count


def cmd_wrk(a):
    runs, problems = [], []
    for path in a.files:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                runs.append(parse_wrk(f.read()))
        except (OSError, ValueError) as e:
            problems.append(f"{path}: {e}")
    rec = {"kind": "mixed" if a.mixed else "wrk", "backend": a.backend, "workload": a.workload,
           "check": a.check}
    if a.conns:
        rec["conns"] = a.conns
    status = 0
    if runs:
        med = median_run(runs)
        rec.update(rps=med["rps"], p50_ms=med["p50_ms"], p99_ms=med["p99_ms"],
                   errors=sum(r["non2xx"] + r["socket_errors"] for r in runs),
                   socket_errors=sum(r["socket_errors"] for r in runs),
                   runs=[r["rps"] for r in runs])
        requests = [r["requests"] for r in runs if r.get("requests") is not None]
        if requests:
            rec["requests"] = sum(requests)
        if any(r.get("requests") == 0 for r in runs):
            problems.append("a run completed no request at all (each takes longer than the run, or the server "
                            "stalled): raise DURATION, or lower CONNS")
    if a.proc:
        proc = parse_proc(a.proc)
        rec.update(proc)
        if proc and rec.get("requests"):
            rec["cpu_us_per_req"] = proc["cpu_s"] * 1e6 / rec["requests"]
    if a.mixed and runs:
        counts = {k: sum(r.get("status", {}).get(k, 0) for r in runs) for k in ("2xx", "3xx", "429", "4xx", "5xx")}
        if not any(r.get("status") for r in runs):
            problems.append("no 'mixed status' line: was the run made with mixed.lua?")
        rec["status"] = counts
        # 3xx is not expected either (no conditional requests are sent), so it counts as an error
        rec["other_errors"] = counts["3xx"] + counts["4xx"] + counts["5xx"] + rec["socket_errors"]
        if rec["other_errors"] or problems:
            rec["check"] = "FAILED"
            status = 3
    if problems:
        rec["problems"] = problems
    print(json.dumps(rec))
    if runs:
        extra = ""
        if rec.get("cpu_s") is not None:
            extra = f", CPU {rec['cpu_s']:.1f} s ({fmt_num(rec.get('cpu_pct'))} %), peak RSS {rec['peak_rss_mb']:.0f} MB"
        if a.mixed:
            extra += f", 429 {rec['status']['429']}, other errors {rec['other_errors']}"
        print(f"  {a.backend} {a.workload}: {rec['rps']:.0f} req/s (runs {', '.join(f'{r:.0f}' for r in rec['runs'])}),"
              f" p50 {fmt_ms(rec['p50_ms'])}, p99 {fmt_ms(rec['p99_ms'])}, errors {rec['errors']}{extra}",
              file=sys.stderr)
    for p in problems:
        print(f"  {a.backend} {a.workload}: {p}", file=sys.stderr)
    return status


def peak_of(run):
    """Peak RSS of one export: the polled maximum, or VmHWM when it was reset just before."""
    return max(run["rss_peak_mb"], run["hwm_after_mb"] if run["hwm_reset"] else 0.0)


def cmd_export(a):
    """SAMPLES: one line per repetition: bytes seconds http_code rss_before_kb rss_peak_kb hwm_before_kb
    hwm_after_kb hwm_reset [cpu_ticks clk_tck]."""
    runs = []
    with open(a.samples, encoding="utf-8") as f:
        for line in f:
            p = line.split()
            if len(p) < 8:
                continue
            size, secs = int(float(p[0])), float(p[1])
            runs.append({
                "bytes": size, "seconds": secs, "http": p[2],
                "mbps": size / 1e6 / secs if secs > 0 else 0.0,
                "rss_before_mb": int(p[3]) / 1024, "rss_peak_mb": int(p[4]) / 1024,
                "hwm_before_mb": int(p[5]) / 1024, "hwm_after_mb": int(p[6]) / 1024,
                "hwm_reset": p[7] == "1",
                "cpu_s": int(p[8]) / int(p[9]) if len(p) >= 10 and int(p[9]) else None,
            })
    rec = {"kind": "export", "backend": a.backend, "check": a.check, "runs": runs}
    ok = [r for r in runs if r["http"] == "200"]
    if ok:
        med = median_run([dict(r, rps=r["mbps"]) for r in ok])
        growth = []
        for r in ok:
            growth.append(peak_of(r) - r["rss_before_mb"])
        rec.update(mbps=med["mbps"], seconds=med["seconds"], bytes=med["bytes"],
                   rss_growth_mb=max(growth), rss_peak_mb=max(peak_of(r) for r in ok),
                   rss_before_mb=ok[0]["rss_before_mb"], errors=len(runs) - len(ok))
        if med.get("cpu_s") is not None:
            rec.update(cpu_s=med["cpu_s"], cpu_pct=100.0 * med["cpu_s"] / med["seconds"] if med["seconds"] else None)
        print(f"  {a.backend} W5: {rec['mbps']:.1f} MB/s, {rec['bytes'] / 1e6:.1f} MB in {rec['seconds']:.2f} s,"
              f" RSS growth {rec['rss_growth_mb']:.1f} MB", file=sys.stderr)
    else:
        rec["errors"] = len(runs)
        print(f"  {a.backend} W5: no successful export ({[r['http'] for r in runs]})", file=sys.stderr)
    print(json.dumps(rec))
    return 0


def cmd_deep(a):
    """The cursor-depth comparison: one page near the end of the data vs the first page."""
    first, deep = (median_run([parse_wrk(open(p, encoding="utf-8", errors="replace").read())])
                   for p in (a.first_file, a.deep_file))
    rec = {"kind": "deep", "backend": a.backend, "first_url": a.first_url, "deep_url": a.deep_url,
           "first_rps": first["rps"], "deep_rps": deep["rps"],
           "first_errors": first["non2xx"] + first["socket_errors"],
           "deep_errors": deep["non2xx"] + deep["socket_errors"]}
    print(json.dumps(rec))
    print(f"  {a.backend} deep/first: {deep['rps']:.0f} / {first['rps']:.0f} req/s = "
          f"{deep['rps'] / first['rps']:.2f}x" if first["rps"] else "  first page: 0 req/s", file=sys.stderr)
    return 0


def convert(v):
    for t in (int, float):
        try:
            return t(v)
        except ValueError:
            pass
    return v


def cmd_add(a):
    rec = {}
    for kv in a.pairs:
        k, _, v = kv.partition("=")
        rec[k] = convert(v)
    print(json.dumps(rec))
    return 0


# ---------------------------------------------------------------- render

def fmt_ms(v):
    if v is None:
        return "—"
    if v < 1:
        return f"{v * 1000:.0f} µs"
    if v < 100:
        return f"{v:.2f} ms"
    return f"{v:.0f} ms"


def fmt_num(v, digits=0):
    return "—" if v is None else f"{v:,.{digits}f}"


def ratio(a, b):
    if not a or not b:
        return "—"
    r = a / b
    return f"{r:.2f}×" if r >= 0.1 else f"{r:.3f}×"


def load(path):
    recs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                recs.append(json.loads(line))
    return recs


def backends_in_order(recs):
    seen = []
    for r in recs:
        b = r.get("backend")
        if b and b not in seen:
            seen.append(b)
    return seen


def fmt_mb(v):
    return "—" if v is None else f"{v:,.0f}"


def fmt_cpu(r):
    """CPU seconds, % of the pinned core, µs per request: three cells."""
    if r.get("cpu_s") is None:
        return "— | — | —"
    us = r.get("cpu_us_per_req")
    return f"{r['cpu_s']:.1f} | {fmt_num(r.get('cpu_pct'))} | {fmt_num(us) if us is not None else '—'}"


def render(recs, meta):
    out = []
    w = out.append
    w(f"# Gerbang benchmark — {meta.get('date', '')}")
    w("")
    w("Figures are from one run on one machine, on this date; they are not universal. Compare the")
    w("ratios between rows of this report, not absolute numbers across machines.")
    w("")
    w("## Machine and method")
    w("")
    for key, label in (("date", "date"), ("uname", "`uname -a`"), ("nproc", "`nproc`"), ("cpu", "CPU model"),
                       ("mem", "memory"), ("pinning", "pinning"), ("rows", "rows"), ("csv", "data"),
                       ("wrk", "load"), ("wrk_version", "wrk"), ("gerbang", "gerbang"),
                       ("server_env", "server env"), ("indexes", "indexes"), ("mixed", "mixed scenario"),
                       ("datasette", "datasette"),
                       ("run_time", "run time")):
        if meta.get(key):
            w(f"- **{label}**: {meta[key]}")
    w("")

    wrk = [r for r in recs if r.get("kind") == "wrk"]
    exports = {r["backend"]: r for r in recs if r.get("kind") == "export"}
    checks = {(r["backend"], r["workload"]): r["check"] for r in recs if r.get("kind") == "check"}
    by = {(r["backend"], r["workload"]): r for r in wrk}
    order = WORKLOAD_ORDER + EXTRA_WORKLOADS + ["health"]
    backends = [b for b in backends_in_order(recs)
                if any(r.get("backend") == b and (r.get("kind") in ("wrk", "export")
                                                 or r.get("kind") == "check" and r.get("workload") in order)
                       for r in recs)]

    w("## Results")
    w("")
    w("Median of the repetitions by req/s, with that run's latency percentiles; errors are non-2xx/3xx")
    w("responses plus socket errors (connect, read, write, timeout), summed over all repetitions. W5 is")
    w("in MB/s (one request at a time, median of the repetitions). **Server CPU** is utime + stime of the")
    w("server process (all threads, /proc/PID/stat) over the recorded repetitions, its share of the one")
    w("core it is pinned to, and per request; for W5, per export. **Peak RSS** is the server's VmHWM")
    w("over the recorded repetitions (reset through /proc/PID/clear_refs before them). A workload whose")
    w("answer failed its check is marked FAILED (and is not timed unless TIME_FAILED=1). A workload one")
    w("request of which alone took SLOW_MS or more is *slow*: at full concurrency every request would")
    w("wait past wrk's timeout, so it gets one run at SLOW_CONNS connections (marked in its req/s cell).")
    w("")
    w("| backend | workload | req/s | p50 | p99 | errors (non-2xx+socket) | CPU s | CPU % | CPU µs/req | peak RSS MB | check |")
    w("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for b in backends:
        for wl in order:
            chk = checks.get((b, wl))
            if wl == "W5":
                e = exports.get(b)
                if e is None and chk is None:
                    continue
                e = e or {}
                rate = f"{e['mbps']:.1f} MB/s" if e.get("mbps") else "—"
                w(f"| {b} | W5 export | {rate} | — | — | {e.get('errors', '—')} | {fmt_cpu(e)}"
                  f" | {fmt_mb(e.get('rss_peak_mb'))} | {chk or e.get('check', '—')} |")
                continue
            r = by.get((b, wl))
            if r is None and chk is None:
                continue
            r = r or {}
            rps = fmt_num(r.get('rps'))
            if r.get("conns") and str(r["conns"]) != str(meta.get("conns", r["conns"])):
                rps += f" (slow: {r['conns']} conn, 1 run)"
            w(f"| {b} | {wl} | {rps} | {fmt_ms(r.get('p50_ms'))} | {fmt_ms(r.get('p99_ms'))}"
              f" | {r.get('errors', '—')} | {fmt_cpu(r)} | {fmt_mb(r.get('peak_rss_mb'))}"
              f" | {chk or r.get('check', '—')} |")
    w("")

    mixed = [r for r in recs if r.get("kind") == "mixed"]
    mixmeta = {r["backend"]: r for r in recs if r.get("kind") == "mixmeta"}
    mixed_checks = [(b, c) for (b, wl), c in checks.items() if wl == "MIXED"]
    if mixed or mixed_checks:
        w("## Mixed traffic")
        w("")
        w("A realistic mix replayed by `mixed.lua` (drawn and checked by `mixed.py`): catalog browsing,")
        w("dataset metadata, records by id, filtered and sorted pages, pages reached through `next_cursor`,")
        w("full-text search, small CSV exports, aggregates and the demo datasets' records, with developer")
        w("keys; a share of anonymous callers meets a tight anonymous tier and is answered 429. 429s are")
        w("expected; **other errors** (any other non-2xx, and socket errors) must be 0. Status counts are")
        w("summed over the repetitions; req/s, p50 and p99 are the median repetition's and include the")
        w("(cheap) 429 answers.")
        w("")
        w("| backend | req/s | p50 | p99 | 2xx | 429 | other errors | CPU s | CPU % | CPU µs/req | peak RSS MB | check |")
        w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for r in mixed:
            st = r.get("status", {})
            w(f"| {r['backend']} | {fmt_num(r.get('rps'))} | {fmt_ms(r.get('p50_ms'))} | {fmt_ms(r.get('p99_ms'))}"
              f" | {fmt_num(st.get('2xx'))} | {fmt_num(st.get('429'))} | {r.get('other_errors', '—')}"
              f" | {fmt_cpu(r)} | {fmt_mb(r.get('peak_rss_mb'))} | {r.get('check', '—')} |")
        timed = {r["backend"] for r in mixed}
        for b, c in mixed_checks:
            if b not in timed:
                w(f"| {b} | — | — | — | — | — | — | — | — | — | — | {c} |")
        w("")
        for b, m in mixmeta.items():
            w(f"- {b}: {m.get('text', '')}")
        if mixmeta:
            w("")

    ingest = [r for r in recs if r.get("kind") == "ingest"]
    if ingest:
        w("## Ingest")
        w("")
        w("Wall time of the whole load, rows per second over it, CPU (user + system) and peak RSS of the")
        w("loading process (largest of the steps for Datasette's).")
        w("")
        w("| backend | rows | seconds (wall) | rows/s | CPU s | peak RSS MB | note |")
        w("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
        for r in ingest:
            secs = r.get("seconds")
            rps = r["rows"] / secs if secs else None
            rss = r.get("peak_rss_kb")
            w(f"| {r['backend']} | {fmt_num(r.get('rows'))} | {fmt_num(secs, 1)} | {fmt_num(rps)}"
              f" | {fmt_num(r.get('cpu_s'), 1)} | {fmt_mb(rss / 1024 if isinstance(rss, (int, float)) else None)}"
              f" | {str(r.get('note', '')).replace('|', '/')} |")
        w("")

    if exports:
        w("## W5 export (full CSV)")
        w("")
        w("| backend | size MB | seconds (median) | MB/s | server CPU s | RSS before MB | RSS peak MB | RSS growth MB | runs |")
        w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for b, e in exports.items():
            runs = ", ".join(f"{x['mbps']:.1f}" if x["http"] == "200" else f"HTTP {x['http']}" for x in e["runs"])
            w(f"| {b} | {fmt_num((e.get('bytes') or 0) / 1e6, 1)} | {fmt_num(e.get('seconds'), 2)}"
              f" | {fmt_num(e.get('mbps'), 1)} | {fmt_num(e.get('cpu_s'), 1)} | {fmt_num(e.get('rss_before_mb'), 1)}"
              f" | {fmt_num(e.get('rss_peak_mb'), 1)} | {fmt_num(e.get('rss_growth_mb'), 1)} | {runs} MB/s |")
        w("")
        w("RSS growth: the server's peak resident set during an export (VmRSS polled every 50 ms, and VmHWM")
        w("after resetting it through /proc/PID/clear_refs where the kernel allows) minus VmRSS just before")
        w("the export; the largest over the repetitions.")
        w("")

    notes_extra = []
    deep = [r for r in recs if r.get("kind") == "deep"]
    if deep:
        w("## Deep page vs first page")
        w("")
        w("| backend | first page | first req/s | deep page | deep req/s | deep/first |")
        w("| --- | --- | ---: | --- | ---: | ---: |")
        for r in deep:
            if r.get("first_errors") or r.get("deep_errors"):
                notes_extra.append(f"{r['backend']}: deep/first runs had {r.get('first_errors')} / "
                                   f"{r.get('deep_errors')} errors")
            w(f"| {r['backend']} | `{r.get('first_url', '')}` | {fmt_num(r.get('first_rps'))}"
              f" | `{r.get('deep_url', '')}` | {fmt_num(r.get('deep_rps'))} | {ratio(r.get('deep_rps'), r.get('first_rps'))} |")
        w("")
        w("A keyset cursor should keep this near 1.00×: a page deep in the data costs about the same as the first.")
        w("")

    timed = {r["backend"] for r in wrk} | set(exports)
    peers = [b for b in backends if b.startswith("datasette") and b in timed]
    ours = [b for b in backends if not b.startswith("datasette") and b != CEILING and b in timed]
    cols = [wl for wl in WORKLOAD_ORDER + EXTRA_WORKLOADS if wl in CEILING_OF]
    if ours and any((CEILING, c) in by for c in set(CEILING_OF.values())):
        w("## Share of the ceiling (req/s ÷ the bare actix server's)")
        w("")
        w("The page workloads (W2, W2c, W3, W4) against the bare server answering the W2 page's bytes")
        w("(`/page`); one record (W1) and the aggregate (W6), small bodies, against its tiny JSON")
        w("(`/health`). W2key is W2 with a developer key in `X-API-Key` (key auth and its limiter on).")
        w("1.00× would be a gateway that costs nothing over actix-web itself.")
        w("")
        w("| backend | " + " | ".join(f"{wl} (÷ {'/page' if CEILING_OF[wl] == 'W2' else '/health'})" for wl in cols) + " |")
        w("| --- | " + " | ".join("---:" for _ in cols) + " |")
        for b in ours + peers:
            cells = [ratio((by.get((b, wl)) or {}).get("rps"), (by.get((CEILING, CEILING_OF[wl])) or {}).get("rps"))
                     for wl in cols]
            w(f"| {b} | " + " | ".join(cells) + " |")
        w("")

    if peers and ours:
        peer = peers[0]
        w("## Gerbang / Datasette (req/s ratio; W5 MB/s ratio; > 1 means Gerbang is faster)")
        w("")
        def peer_ratios(export_field, wrk_field):
            """One row per Gerbang backend: its figure ÷ the peer's, per workload (W5 from the export)."""
            w("| backend | " + " | ".join(WORKLOAD_ORDER) + " |")
            w("| --- | " + " | ".join("---:" for _ in WORKLOAD_ORDER) + " |")
            for b in ours:
                cells = []
                for wl in WORKLOAD_ORDER:
                    if wl == "W5":
                        mine, theirs = exports.get(b) or {}, exports.get(peer) or {}
                        field = export_field
                    else:
                        mine, theirs = by.get((b, wl)) or {}, by.get((peer, wl)) or {}
                        field = wrk_field
                    cells.append(ratio(mine.get(field), theirs.get(field)))
                w(f"| {b} | " + " | ".join(cells) + " |")
            w("")

        peer_ratios("mbps", "rps")
        w("CPU per request, Gerbang ÷ Datasette (< 1 means Gerbang spends less CPU on each answer; W5: per export):")
        w("")
        peer_ratios("cpu_s", "cpu_us_per_req")

    notes = [r for r in recs if r.get("kind") == "note"]
    failed = [(b, wl) for (b, wl), c in checks.items() if c != "ok"]
    failed += [(r["backend"], "MIXED (answers other than 2xx and 429)") for r in mixed
               if r.get("check") != "ok" and checks.get((r["backend"], "MIXED")) == "ok"]
    for r in wrk + mixed:
        for p in r.get("problems", []):
            notes_extra.append(f"{r['backend']} {r['workload']}: {p}")
    if failed or notes or notes_extra:
        w("## Failures and notes")
        w("")
        for b, wl in failed:
            w(f"- {b} {wl}: check {checks.get((b, wl), 'FAILED')}")
        for r in notes:
            w(f"- {r.get('backend', '')}: {r.get('text', '')}")
        for text in notes_extra:
            w(f"- {text}")
        w("")
    if meta.get("raw"):
        w(f"Raw wrk output, server logs and results.jsonl: `{meta['raw']}`.")
        w("")
    return "\n".join(out)


def cmd_render(a):
    meta = {}
    for kv in a.meta or []:
        k, _, v = kv.partition("=")
        meta[k] = v
    sys.stdout.write(render(load(a.results), meta) + "\n")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("wrk")
    p.add_argument("--backend", required=True)
    p.add_argument("--workload", required=True)
    p.add_argument("--check", default="ok")
    p.add_argument("--proc", help="run.sh's NAME.proc: server CPU and peak RSS over the recorded runs")
    p.add_argument("--mixed", action="store_true", help="a mixed.lua run: split 429s from other errors")
    p.add_argument("--conns", type=int, help="connections, when not the run's CONNS (a slow workload)")
    p.add_argument("files", nargs="+")
    p.set_defaults(fn=cmd_wrk)
    p = sub.add_parser("export")
    p.add_argument("--backend", required=True)
    p.add_argument("--check", default="ok")
    p.add_argument("samples")
    p.set_defaults(fn=cmd_export)
    p = sub.add_parser("deep")
    p.add_argument("--backend", required=True)
    p.add_argument("--first-url", default="")
    p.add_argument("--deep-url", default="")
    p.add_argument("first_file")
    p.add_argument("deep_file")
    p.set_defaults(fn=cmd_deep)
    p = sub.add_parser("add")
    p.add_argument("pairs", nargs="+")
    p.set_defaults(fn=cmd_add)
    p = sub.add_parser("render")
    p.add_argument("results")
    p.add_argument("--meta", action="append")
    p.set_defaults(fn=cmd_render)
    a = ap.parse_args(argv)
    return a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
