#!/usr/bin/env python3
"""The realistic mixed scenario: what a day of portal and API traffic looks like, as one wrk run.

    mixed.py prepare ROOT_URL --rows N --out FILE [--keys K] [--lines L] [--weights k=w,...] [--seed S]

ROOT_URL is the server root (http://127.0.0.1:PORT) of a Gerbang serving the benchmark dataset
(bench/laporan-warga version 1) and, ideally, the demo catalog (`gerbang serve --demo`). prepare:

1. registers K developers (POST /v1/developers) and keeps their keys (free tier: run.sh lifts its
   limits for this run, while the anonymous tier stays tight, so anonymous callers meet 429s);
2. follows next_cursor a few pages deep on a few filtered queries (cursors are signed by this
   server, so they are fetched from it);
3. draws L requests by class weight (seeded, so the same mix every run), each with a developer key
   or, for the `anonymous` class, none;
4. checks one request of every class before anything is timed: 200 with the expected shape (for
   `anonymous`, 200 or 429 `rate_limited`); exit status 1 when one fails;
5. writes FILE for mixed.lua: `key<TAB>KEY` lines, then `req<TAB>KEY_INDEX|-<TAB>CLASS<TAB>PATH`.

Classes and default weights (percent of requests):
  browse 12       /v1/datasets?q=|agency=|theme=|limit&offset, /v1/agencies[/{a}]
  meta 8          /v1/datasets/{a}/{d}, /v1/datasets/{a}/{d}/versions/{v}
  record 14       …/records/{random id}
  page 25         …/records with eq filters on district/category/status, an order, limit 20–100
  cursor 8        …/records?…&cursor=…  (a page reached through next_cursor)
  search 6        …/records?q=WORD&limit=20
  export 3        …/records?format=csv&_id=gt.A&_id=lte.A+500  (a small streamed CSV export)
  aggregate 5     …/aggregate?group_by=district|category|status[&category=eq.C]&metrics=…
  demo_records 4  /v1/datasets/{a}/{d}/versions/latest/records?limit=20 on the demo datasets
  anonymous 15    any of the above, without a key
Standard library only.
"""

import argparse
import json
import random
import sys
import urllib.error
import urllib.parse
import urllib.request

DATASET = "/v1/datasets/bench/laporan-warga"
BASE = DATASET + "/versions/1"
WEIGHTS = {
    "browse": 12, "meta": 8, "record": 14, "page": 25, "cursor": 8, "search": 6, "export": 3,
    "aggregate": 5, "demo_records": 4, "anonymous": 15,
}
DISTRICTS = ["Balikpapan Barat", "Balikpapan Kota", "Balikpapan Selatan", "Balikpapan Tengah",
             "Balikpapan Timur", "Balikpapan Utara"]
CATEGORIES = ["jalan rusak", "sampah", "banjir", "lampu jalan", "drainase"]
STATUSES = ["baru", "diproses", "selesai", "ditolak"]
THEMES = ["governance", "branding", "economy", "living", "society", "environment"]
CATALOG_WORDS = ["sampah", "jalan", "laporan", "udara", "anggaran", "warga", "fasilitas"]
SEARCH_WORDS = ["banjir", "sampah", "lampu", "jalan", "drainase", "macet", "berlubang", "genangan"]
EXPORT_ROWS = 500


class Failed(Exception):
    pass


def request(url, key=None, body=None):
    """(status, headers, body bytes); HTTP errors are answers too."""
    headers = {"Accept": "application/json"}
    if key:
        headers["X-API-Key"] = key
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()
    except (urllib.error.URLError, OSError) as e:
        raise Failed(f"request to {url} failed: {e}") from None


def get_json(root, path, key=None):
    status, _, body = request(root + path, key)
    if status != 200:
        raise Failed(f"GET {path}: HTTP {status}: {body[:300]!r}")
    try:
        return json.loads(body)
    except ValueError:
        raise Failed(f"GET {path}: not JSON: {body[:200]!r}") from None


def q(value):
    return urllib.parse.quote(value, safe="")


def register(root, k, tag):
    keys = []
    for i in range(k):
        status, _, body = request(root + "/v1/developers", body={
            "email": f"bench-mixed-{tag}-{i}@contoh.id", "name": f"bench mixed {i}",
            "purpose": "load test"})
        if status != 201:
            raise Failed(f"POST /v1/developers: HTTP {status}: {body[:300]!r}")
        keys.append(json.loads(body)["api_key"]["key"])
    return keys


def catalog(root, key):
    """(agency slugs, [(agency, dataset, latest_version)]) of the published catalog."""
    agencies = [a["slug"] for a in get_json(root, "/v1/agencies", key)["data"]]
    datasets = [(d["agency"], d["slug"], d.get("latest_version"))
                for d in get_json(root, "/v1/datasets?limit=100", key)["data"]]
    return agencies, [d for d in datasets if d[2] is not None]


def page_path(rng):
    parts = [f"district=eq.{q(rng.choice(DISTRICTS))}"]
    if rng.random() < 0.7:
        parts.append(f"category=eq.{q(rng.choice(CATEGORIES))}")
    if rng.random() < 0.3:
        parts.append(f"status=eq.{q(rng.choice(STATUSES))}")
    parts.append("order=" + rng.choice(["reported_at.desc,id.desc", "_id.asc", "priority.desc"]))
    parts.append(f"limit={rng.choice([20, 50, 100])}")
    return BASE + "/records?" + "&".join(parts)


def cursors(root, key, rng, queries=3, depth=5):
    """Paths of pages reached by following next_cursor from the first page of a few queries."""
    out = []
    for _ in range(queries):
        first = (f"{BASE}/records?district=eq.{q(rng.choice(DISTRICTS))}"
                 f"&order=reported_at.desc,id.desc&limit=50")
        path = first
        for _ in range(depth):
            cur = get_json(root, path, key).get("next_cursor")
            if not cur:
                break
            path = f"{first}&cursor={q(cur)}"
            out.append(path)
    return out


def generators(rows, agencies, datasets, cursor_paths):
    demo = [d for d in datasets if (d[0], d[1]) != ("bench", "laporan-warga")]
    return {
        "browse": lambda r: r.choice([
            "/v1/datasets",
            f"/v1/datasets?q={r.choice(CATALOG_WORDS)}",
            f"/v1/datasets?agency={r.choice(agencies)}" if agencies else "/v1/datasets",
            f"/v1/datasets?theme={r.choice(THEMES)}",
            f"/v1/datasets?limit=5&offset={r.choice([0, 5])}",
            "/v1/agencies",
            f"/v1/agencies/{r.choice(agencies)}" if agencies else "/v1/agencies",
        ]),
        "meta": lambda r: (lambda d: r.choice([
            f"/v1/datasets/{d[0]}/{d[1]}", f"/v1/datasets/{d[0]}/{d[1]}/versions/{d[2]}",
        ]))(r.choice(datasets)),
        "record": lambda r: f"{BASE}/records/{r.randint(1, rows)}",
        "page": page_path,
        "cursor": (lambda r: r.choice(cursor_paths)) if cursor_paths else page_path,
        "search": lambda r: f"{BASE}/records?q={r.choice(SEARCH_WORDS)}&limit=20",
        "export": lambda r: (lambda a: f"{BASE}/records?format=csv&_id=gt.{a}&_id=lte.{a + EXPORT_ROWS}")(
            r.randint(0, max(0, rows - EXPORT_ROWS))),
        "aggregate": lambda r: f"{BASE}/aggregate?group_by={r.choice(['district', 'category', 'status'])}"
                               + (f"&category=eq.{q(r.choice(CATEGORIES))}" if r.random() < 0.5 else "")
                               + "&metrics=" + r.choice(["count", "count,avg:resolved_days"]),
        "demo_records": (lambda r: (lambda d: f"/v1/datasets/{d[0]}/{d[1]}/versions/latest/records?limit=20")(
            r.choice(demo))) if demo else page_path,
    }


def check(root, cls, path, key):
    """One request of a class, answered as it should be; a short summary."""
    status, headers, body = request(root + path, key)
    if cls == "anonymous":
        if status == 429:
            code = json.loads(body).get("code")
            if code not in ("rate_limited", "quota_exceeded"):
                raise Failed(f"anonymous {path}: 429 with code {code!r}")
            return "429 rate_limited"
        if status != 200:
            raise Failed(f"anonymous {path}: HTTP {status}: {body[:300]!r}")
        return "200 (the anonymous allowance is not used up yet)"
    if status != 200:
        raise Failed(f"{cls} {path}: HTTP {status}: {body[:300]!r}")
    if cls == "export":
        lines = body.decode("utf-8").splitlines()
        if not lines or not lines[0].startswith("_id,") or len(lines) > EXPORT_ROWS + 1:
            raise Failed(f"export {path}: expected a CSV of at most {EXPORT_ROWS} rows, got {len(lines)} lines")
        return f"CSV, {len(lines) - 1} rows"
    doc = json.loads(body)
    if cls == "record":
        if not isinstance(doc, dict) or "_id" not in doc:
            raise Failed(f"record {path}: not a record: {body[:200]!r}")
        return f"record {doc['_id']}"
    if cls in ("page", "cursor", "search", "demo_records", "aggregate"):
        if not isinstance(doc.get("data"), list):
            raise Failed(f"{cls} {path}: no data list: {body[:200]!r}")
        return f"{len(doc['data'])} rows"
    return "200"


def cmd_prepare(a):
    weights = dict(WEIGHTS)
    for kv in filter(None, (a.weights or "").split(",")):
        k, _, v = kv.partition("=")
        if k not in weights:
            raise SystemExit(f"mixed.py: unknown class {k!r} in --weights (classes: {', '.join(weights)})")
        weights[k] = float(v)
    rng = random.Random(a.seed)
    root = a.root.rstrip("/")
    try:
        keys = register(root, a.keys, f"{a.seed}-{random.randrange(1 << 30)}")
        agencies, datasets = catalog(root, keys[0])
        if not any(d[:2] == ("bench", "laporan-warga") for d in datasets):
            raise Failed("bench/laporan-warga is not in the published catalog")
        gens = generators(a.rows, agencies, datasets, cursors(root, keys[0], rng))
        keyed = [c for c in weights if c != "anonymous" and weights[c] > 0]
        classes = [c for c in weights if weights[c] > 0]
        lines, counts = [], {c: 0 for c in classes}
        for _ in range(a.lines):
            cls = rng.choices(classes, [weights[c] for c in classes])[0]
            counts[cls] += 1
            if cls == "anonymous":
                inner = rng.choices(keyed, [weights[c] for c in keyed])[0]
                lines.append(("-", cls, gens[inner](rng)))
            else:
                lines.append((str(rng.randrange(len(keys))), cls, gens[cls](rng)))
        checked = []
        for cls in classes:
            sample = next(line for line in lines if line[1] == cls)
            key = None if sample[0] == "-" else keys[int(sample[0])]
            checked.append(f"{cls}: {check(root, cls, sample[2], key)}")
    except (Failed, KeyError, ValueError) as e:
        print(f"CHECK FAILED mixed: {e}", file=sys.stderr)
        return 1
    with open(a.out, "w", encoding="utf-8") as f:
        for k in keys:
            f.write(f"key\t{k}\n")
        for key_index, cls, path in lines:
            f.write(f"req\t{key_index}\t{cls}\t{path}\n")
    total = sum(counts.values())
    mix = ", ".join(f"{c} {100 * n / total:.0f}%" for c, n in counts.items())
    print(f"check ok mixed: {'; '.join(checked)}", file=sys.stderr)
    print(f"{total} requests, {len(keys)} developer keys; {mix}")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("root")
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--keys", type=int, default=8)
    p.add_argument("--lines", type=int, default=4000)
    p.add_argument("--weights", default="")
    p.add_argument("--seed", type=int, default=20250101)
    p.set_defaults(fn=cmd_prepare)
    a = ap.parse_args(argv)
    return a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
