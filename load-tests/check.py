#!/usr/bin/env python3
"""Expected-result checker for the benchmark workloads (shared/bench/workloads.md).

run.sh asks this script two things, so that the URLs live in one place:

    check.py W2 BASE_URL [--rows N] [--target gerbang|datasette]   check one workload's answer
    check.py --url W2 [--rows N] [--target ...]                     print the path to time
    check.py --parse-rows 1m                                        print 1000000

BASE_URL is, for Gerbang, the dataset version, e.g.
http://127.0.0.1:18080/v1/datasets/bench/laporan-warga/versions/1 ; for Datasette the server root,
e.g. http://127.0.0.1:18081 .

Exact expected values hold only for 1 000 000 rows and the default seed; for any other size only
the shape (and what holds for every size: contiguous ids, group counts adding up to N, N+1 CSV
lines) is checked, and the output says so.

Exit status: 0 ok, 1 the answer does not match, 2 the request itself failed (HTTP error, timeout,
not JSON). Standard library only.
"""

import argparse
import datetime as dt
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

WORKLOADS = ("W1", "W2", "W2c", "W3", "W4", "W5", "W6")
# extra URLs run.sh times but does not check: the cursor-depth comparison
EXTRA = ("DEEP", "FIRST")
EXACT_ROWS = 1_000_000
DISTRICT_COUNTS = {
    "Balikpapan Barat": 120256,
    "Balikpapan Kota": 130062,
    "Balikpapan Selatan": 220059,
    "Balikpapan Tengah": 169288,
    "Balikpapan Timur": 120174,
    "Balikpapan Utara": 240161,
}
DISTRICTS = set(DISTRICT_COUNTS)
DS_TABLE = "/laporan/laporan_warga"
DS_OFF = "&_nocount=1&_nofacet=1"


class Mismatch(Exception):
    """The server answered, but not what workloads.md expects."""


class FetchError(Exception):
    """The request failed (HTTP status, network, not JSON)."""


def parse_rows(s):
    """Same rules as gen_data.py: 100k, 1m, 2_500 or a plain integer."""
    s = str(s).strip().lower().replace("_", "")
    mult = 1
    if s.endswith("k"):
        mult, s = 1_000, s[:-1]
    elif s.endswith("m"):
        mult, s = 1_000_000, s[:-1]
    n = int(float(s) * mult)
    if n <= 0:
        raise ValueError("rows must be positive")
    return n


def w1_id(n):
    return 123456 if n >= 123456 else max(1, n // 2)


def w3_start(n):
    """The id after which the W3 page starts: 500000 for 1m, half way for small data."""
    return 500000 if n >= 500100 else n // 2


def deep_start(n):
    return n * 9 // 10


def url_for(workload, target, n):
    """The path (and query) to time, relative to the base URL."""
    if target == "gerbang":
        return {
            "W1": f"/records/{w1_id(n)}",
            "W2": "/records?district=eq.Balikpapan%20Utara&category=eq.banjir"
                  "&order=reported_at.desc,id.desc&limit=100",
            "W2c": "/records?district=eq.Balikpapan%20Utara&category=eq.banjir"
                   "&order=reported_at.desc,id.desc&limit=100&count=exact",
            "W3": f"/records?id=gt.{w3_start(n)}&order=id.asc&limit=100",
            "W4": "/records?q=banjir&order=id.asc&limit=100",
            "W5": "/records?format=csv",
            "W6": "/aggregate?group_by=district&metrics=count",
            "DEEP": f"/records?_id=gt.{deep_start(n)}&limit=100",
            "FIRST": "/records?limit=100",
        }[workload]
    if target == "datasette":
        w2 = (f"{DS_TABLE}.json?district=Balikpapan+Utara&category=banjir"
              "&_sort_desc=reported_at&_size=100")
        sql = "select district, count(*) as count from laporan_warga group by district"
        return {
            "W1": f"{DS_TABLE}/{w1_id(n)}.json",
            "W2": w2 + DS_OFF,
            "W2c": w2 + "&_nofacet=1",
            "W3": f"{DS_TABLE}.json?_next={w3_start(n)}&_size=100" + DS_OFF,
            "W4": f"{DS_TABLE}.json?_search=banjir&_size=100" + DS_OFF,
            "W5": f"{DS_TABLE}.csv?_stream=on&_size=max",
            "W6": "/laporan.json?" + urllib.parse.urlencode({"sql": sql, "_shape": "array"}),
            "DEEP": f"{DS_TABLE}.json?_next={deep_start(n)}&_size=100" + DS_OFF,
            "FIRST": f"{DS_TABLE}.json?_size=100" + DS_OFF,
        }[workload]
    raise ValueError(f"unknown target {target!r}")


# ---------------------------------------------------------------- HTTP

def fetch(url, timeout=120):
    req = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
            return resp.status, dict(resp.headers), body
    except urllib.error.HTTPError as e:
        body = e.read()[:400].decode("utf-8", "replace")
        raise FetchError(f"HTTP {e.code} from {url}: {body}") from None
    except (urllib.error.URLError, OSError) as e:
        raise FetchError(f"request to {url} failed: {e}") from None


def fetch_json(url):
    _, headers, body = fetch(url)
    try:
        return json.loads(body), headers
    except ValueError:
        raise FetchError(f"not JSON from {url}: {body[:200]!r}") from None


def count_lines(url):
    """Stream a (large) body and count its lines without keeping it."""
    req = urllib.request.Request(url)
    lines = size = 0
    last = b""
    try:
        with urllib.request.urlopen(req, timeout=900) as resp:
            while True:
                chunk = resp.read(1 << 20)
                if not chunk:
                    break
                lines += chunk.count(b"\n")
                size += len(chunk)
                last = chunk[-1:]
    except urllib.error.HTTPError as e:
        raise FetchError(f"HTTP {e.code} from {url}: {e.read()[:300]!r}") from None
    except (urllib.error.URLError, OSError) as e:
        raise FetchError(f"request to {url} failed: {e}") from None
    if last and last != b"\n":
        lines += 1  # a last line without its newline
    return lines, size


# ---------------------------------------------------------------- shapes

def records_of(doc, target):
    """The list of records as dicts, for either server's list answer."""
    if target == "gerbang":
        if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
            raise Mismatch(f'expected {{"data": [...]}}, got {short(doc)}')
        return doc["data"]
    return datasette_rows(doc)


def datasette_rows(doc):
    if isinstance(doc, list):  # _shape=array
        return doc
    rows = doc.get("rows")
    if not isinstance(rows, list):
        raise Mismatch(f'expected {{"rows": [...]}}, got {short(doc)}')
    if rows and isinstance(rows[0], list):  # Datasette 0.x default shape: arrays + "columns"
        cols = doc.get("columns") or []
        return [dict(zip(cols, r)) for r in rows]
    return rows


def single_record(doc, target):
    if target == "gerbang":
        if not isinstance(doc, dict) or "data" in doc and isinstance(doc["data"], (list, dict)):
            raise Mismatch(f"expected a bare record object (API.md: single objects are not wrapped), "
                           f"got {short(doc)}")
        return doc
    rows = datasette_rows(doc)
    if len(rows) != 1:
        raise Mismatch(f"expected 1 row, got {len(rows)}")
    return rows[0]


def as_int(rec, key, warnings):
    if key not in rec:
        raise Mismatch(f"record has no {key!r}: {short(rec)}")
    v = rec[key]
    if isinstance(v, bool):
        raise Mismatch(f"{key} is a boolean: {short(rec)}")
    if isinstance(v, int):
        return v
    if isinstance(v, str) and v.lstrip("-").isdigit():
        warnings.append(f"{key} came back as a string ({v!r}), not an integer")
        return int(v)
    if isinstance(v, float) and v.is_integer():
        warnings.append(f"{key} came back as a float ({v!r}), not an integer")
        return int(v)
    raise Mismatch(f"{key} is not an integer: {v!r}")


def ids(recs, warnings):
    return [as_int(r, "id", warnings) for r in recs]


def short(x, n=300):
    s = json.dumps(x, ensure_ascii=False) if not isinstance(x, str) else x
    return s if len(s) <= n else s[:n] + "…"


def expect(cond, msg):
    if not cond:
        raise Mismatch(msg)


def parse_ts(s):
    return dt.datetime.fromisoformat(str(s).replace("Z", "+00:00"))


# ---------------------------------------------------------------- checks

def check_w1(base, target, n, exact, w):
    k = w1_id(n)
    rec = single_record(fetch_json(base + url_for("W1", target, n))[0], target)
    expect(as_int(rec, "id", w) == k, f"asked for id {k}, got id {rec.get('id')!r}")
    if target == "gerbang":
        expect(as_int(rec, "_id", w) == k, f"_id should equal id ({k}), got {rec.get('_id')!r}")
    expect(rec.get("district") in DISTRICTS, f"district {rec.get('district')!r} is not one of the six")
    if exact:
        expect(rec.get("district") == "Balikpapan Utara" and rec.get("category") == "kemacetan",
               f"id 123456: expected Balikpapan Utara / kemacetan, got "
               f"{rec.get('district')!r} / {rec.get('category')!r}")
    return f"id {k}: {rec.get('district')} / {rec.get('category')}"


def check_w2(base, target, n, exact, w, with_count=False):
    doc, _ = fetch_json(base + url_for("W2c" if with_count else "W2", target, n))
    recs = records_of(doc, target)
    expect(0 < len(recs) <= 100, f"expected 1..100 records, got {len(recs)}")
    for r in recs:
        expect(r.get("district") == "Balikpapan Utara" and r.get("category") == "banjir",
               f"record outside the filter: {short(r)}")
    stamps = [parse_ts(r.get("reported_at")) for r in recs]
    expect(all(a >= b for a, b in zip(stamps, stamps[1:])), "records are not in reported_at desc order")
    got = ids(recs, w)
    total = None
    if with_count:
        if target == "gerbang":
            total = doc.get("total")
        else:
            total = doc.get("filtered_table_rows_count", doc.get("count"))
        expect(isinstance(total, int) and not isinstance(total, bool),
               f"expected an integer total, got {total!r}")
        expect(total >= len(recs) and len(recs) == min(100, total),
               f"total {total} does not fit a page of {len(recs)}")
    elif target == "gerbang" and doc.get("next_cursor"):
        expect(len(recs) == 100, f"a page with a next_cursor should be full, got {len(recs)}")
    if exact:
        expect(len(recs) == 100, f"expected 100 records, got {len(recs)}")
        expect(got[0] == 999993 and got[-1] == 997555,
               f"expected ids 999993 … 997555, got {got[0]} … {got[-1]}")
        if with_count:
            expect(total == 28807, f"expected total 28807, got {total}")
    tail = f", total {total}" if with_count else ""
    return f"{len(recs)} records, ids {got[0]} … {got[-1]}{tail}"


def expected_w3(n):
    s = w3_start(n)
    return list(range(s + 1, min(s + 100, n) + 1))


def next_url(base, page_url, doc, headers):
    """The URL of the next page: Link rel=next if given, else the same query plus cursor."""
    link = headers.get("Link") or headers.get("link")
    if link:
        for part in link.split(","):
            if 'rel="next"' in part or "rel=next" in part:
                target = part.split(";")[0].strip().strip("<>")
                return urllib.parse.urljoin(page_url, target)
    cur = doc.get("next_cursor")
    expect(cur, f"the page has no next_cursor: {short(doc)}")
    if cur.startswith("http://") or cur.startswith("https://"):
        return cur
    if cur.startswith("/"):
        return urllib.parse.urljoin(page_url, cur)
    return page_url + "&cursor=" + urllib.parse.quote(cur, safe="")


def check_w3(base, target, n, exact, w):
    want = expected_w3(n)
    doc, _ = fetch_json(base + url_for("W3", target, n))
    got = ids(records_of(doc, target), w)
    expect(got == want, f"id=gt.{w3_start(n)}: expected ids {want[0]} … {want[-1]} ({len(want)}), "
                        f"got {got[:3]} … {got[-3:]} ({len(got)})")
    if target != "gerbang":
        return f"ids {got[0]} … {got[-1]}"
    # the same page reached by following next_cursor from the page before it
    s = w3_start(n)
    first_url = f"{base}/records?id=gt.{max(0, s - 100)}&order=id.asc&limit=100"
    doc1, headers1 = fetch_json(first_url)
    got1 = ids(records_of(doc1, target), w)
    expect(got1 and got1[-1] == s, f"page before: expected it to end at id {s}, got {got1[-3:]}")
    url2 = next_url(base, first_url, doc1, headers1)
    doc2, _ = fetch_json(url2)
    got2 = ids(records_of(doc2, target), w)
    expect(got2 == want, f"via next_cursor ({url2}): expected ids {want[0]} … {want[-1]}, "
                         f"got {got2[:3]} … {got2[-3:]} ({len(got2)})")
    return f"ids {got[0]} … {got[-1]}, same page via next_cursor"


def check_w4(base, target, n, exact, w):
    doc, _ = fetch_json(base + url_for("W4", target, n))
    recs = records_of(doc, target)
    expect(recs, "full-text search for 'banjir' found nothing")
    got = ids(recs, w)
    expect(got == sorted(got), f"ids are not in ascending order: {got[:10]}")
    for r in recs:
        text = " ".join(str(v) for v in r.values() if isinstance(v, str)).lower()
        expect("banjir" in text, f"record does not mention 'banjir': {short(r)}")
    if exact:
        expect(got[:5] == [14, 16, 27, 35, 38], f"expected first ids 14, 16, 27, 35, 38, got {got[:5]}")
        expect(len(recs) == 100, f"expected a full page of 100, got {len(recs)}")
    return f"{len(recs)} records, first ids {got[:5]}"


def check_w5(base, target, n, exact, w):
    lines, size = count_lines(base + url_for("W5", target, n))
    expect(lines == n + 1, f"expected {n + 1} lines (header + {n} rows), got {lines}")
    return f"{lines} lines, {size / 1e6:.1f} MB"


def check_w6(base, target, n, exact, w):
    doc, _ = fetch_json(base + url_for("W6", target, n))
    rows = records_of(doc, target) if target == "gerbang" else datasette_rows(doc)
    got = {}
    for r in rows:
        expect("district" in r and "count" in r, f"aggregate row lacks district/count: {short(r)}")
        c = r["count"]
        expect(isinstance(c, int) and not isinstance(c, bool), f"count is not an integer: {short(r)}")
        got[r["district"]] = c
    expect(set(got) == DISTRICTS, f"expected the six districts, got {sorted(got)}")
    expect(sum(got.values()) == n, f"counts add up to {sum(got.values())}, expected {n}")
    if exact:
        bad = {k: (v, DISTRICT_COUNTS[k]) for k, v in got.items() if DISTRICT_COUNTS[k] != v}
        expect(not bad, "counts differ (got, expected): " + ", ".join(f"{k} {v}" for k, v in bad.items()))
    return ", ".join(f"{k.split()[-1]} {v}" for k, v in sorted(got.items()))


CHECKS = {
    "W1": check_w1,
    "W2": check_w2,
    "W2c": lambda *a: check_w2(*a, with_count=True),
    "W3": check_w3,
    "W4": check_w4,
    "W5": check_w5,
    "W6": check_w6,
}


def main(argv=None):
    ap = argparse.ArgumentParser(description="check a benchmark workload's answer")
    ap.add_argument("workload", nargs="?", help="W1 W2 W2c W3 W4 W5 W6 (DEEP FIRST with --url)")
    ap.add_argument("base", nargs="?", help="base URL (dataset version for Gerbang, root for Datasette)")
    ap.add_argument("--rows", default="1m", help="rows in the data set: 1m, 100k, or an integer")
    ap.add_argument("--target", default="gerbang", choices=("gerbang", "datasette"))
    ap.add_argument("--url", action="store_true", help="print the workload's path and exit")
    ap.add_argument("--parse-rows", metavar="ROWS", help="print ROWS as an integer and exit")
    a = ap.parse_args(argv)

    if a.parse_rows is not None:
        print(parse_rows(a.parse_rows))
        return 0
    n = parse_rows(a.rows)
    if a.workload not in WORKLOADS + EXTRA:
        ap.error(f"workload must be one of {', '.join(WORKLOADS + EXTRA)}")
    if a.url:
        print(url_for(a.workload, a.target, n))
        return 0
    if a.workload not in CHECKS:
        ap.error(f"{a.workload} has no check")
    if not a.base:
        ap.error("base URL required")
    base = a.base.rstrip("/")
    exact = n == EXACT_ROWS
    mode = "exact" if exact else f"shape only: expected values hold for 1m rows, this is {n}"
    warnings = []
    label = f"{a.target} {a.workload}"
    try:
        summary = CHECKS[a.workload](base, a.target, n, exact, warnings)
    except Mismatch as e:
        print(f"CHECK FAILED {label} ({mode}): {e}", file=sys.stderr)
        return 1
    except FetchError as e:
        print(f"CHECK FAILED {label}: {e}", file=sys.stderr)
        return 2
    for msg in warnings[:3]:
        print(f"warning {label}: {msg}", file=sys.stderr)
    print(f"check ok {label} ({mode}): {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
