"""Contract test of Gerbang's interoperability faces with the real clients from PyPI.

Usage: python scripts/interop_test.py http://127.0.0.1:PORT   (a `gerbang serve --demo` server)

- ckanapi, as CKAN users run it: `ckanapi action package_list -r URL`, `ckanapi dump datasets
  --all -r URL`, and RemoteCKAN's package_show, organization_list and datastore_search (with
  equality, list and range filters, compared with the /v1 records answer);
- rdflib parses /catalog.jsonld and /catalog.ttl and finds one dcat:Dataset per dataset, with the
  mandatory DCAT-AP properties;
- frictionless validates every version's datapackage.json (and its CSV);
- /v1/datasets, CKAN package_list, DCAT and data.json list the same datasets.

Any mismatch raises (exit status 1) with what differed.
"""
import hashlib
import json
import os
import subprocess
import sys

import requests
import rdflib
from ckanapi import RemoteCKAN
from frictionless import validate
from rdflib.namespace import DCTERMS, RDF

BASE = sys.argv[1].rstrip("/")
BIN = os.path.dirname(sys.executable)
CHECKS = []
# DCAT 3 terms (rdflib's closed DCAT namespace predates hasVersion / previousVersion).
DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")
SPDX = rdflib.Namespace("http://spdx.org/rdf/terms#")


def check(name):
    def wrap(f):
        CHECKS.append((name, f))
        return f

    return wrap


def get_json(path, **params):
    r = requests.get(BASE + path, params=params, timeout=30)
    assert r.status_code == 200, f"GET {path} {params}: {r.status_code} {r.text[:300]}"
    return r.json()


def v1_datasets():
    """Every dataset of /v1/datasets as `agency/slug`, paging through."""
    out, offset = [], 0
    while True:
        page = get_json("/v1/datasets", limit=100, offset=offset)
        out += [f"{d['agency']}/{d['slug']}" for d in page["data"]]
        offset += 100
        if offset >= page["total"]:
            return sorted(out)


def package_to_path(name):
    agency, dataset = name.split("_", 1)
    return f"{agency}/{dataset}"


def ckanapi_cli(*args):
    r = subprocess.run(
        [os.path.join(BIN, "ckanapi"), *args, "-r", BASE],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, f"ckanapi {' '.join(args)} failed: {r.stderr[-2000:]}"
    return r.stdout


DATASETS = v1_datasets()
assert len(DATASETS) >= 5, f"the demo catalog should have datasets, got {DATASETS}"
CKAN = RemoteCKAN(BASE, user_agent="gerbang-interop-test")


@check("ckanapi action package_list (CLI) lists /v1/datasets")
def _():
    names = json.loads(ckanapi_cli("action", "package_list"))
    assert sorted(package_to_path(n) for n in names) == DATASETS, names


@check("ckanapi dump datasets --all (CLI) dumps every package with its resources")
def _():
    out = ckanapi_cli("dump", "datasets", "--all", "-q", "-p", "1")
    packages = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert sorted(package_to_path(p["name"]) for p in packages) == DATASETS
    for p in packages:
        versions = get_json(f"/v1/datasets/{package_to_path(p['name'])}/versions")["data"]
        readable = [v for v in versions if v["status"] != "draft"]
        assert len(p["resources"]) == len(readable), (p["name"], p["resources"], readable)
        for r in p["resources"]:
            assert r["datastore_active"] is True, r
            assert r["url"].endswith("/records?format=csv"), r


@check("RemoteCKAN package_show and organization_list match /v1")
def _():
    agencies = sorted(a["slug"] for a in get_json("/v1/agencies")["data"])
    assert sorted(CKAN.action.organization_list()) == agencies
    full = CKAN.action.organization_list(all_fields=True)
    assert sorted(o["name"] for o in full) == agencies
    for o in full:
        assert o["package_count"] == sum(1 for d in DATASETS if d.startswith(o["name"] + "/")), o
    for path in DATASETS:
        agency, slug = path.split("/")
        p = CKAN.action.package_show(id=f"{agency}_{slug}")
        d = get_json(f"/v1/datasets/{path}")
        assert p["title"] == d["title"] and p["notes"] == d["description"], (p, d)
        assert p["owner_org"] == agency and p["organization"]["name"] == agency
        assert sorted(t["name"] for t in p["tags"]) == sorted(d["tags"])
        assert p["license_id"] == d["license"]
    try:
        CKAN.action.package_show(id="nobody_nothing")
        raise AssertionError("package_show of a missing package must fail")
    except Exception as e:  # ckanapi.NotFound
        assert type(e).__name__ == "NotFound", repr(e)


def v1_records(path, version, query):
    r = requests.get(
        f"{BASE}/v1/datasets/{path}/versions/{version}/records?{query}&count=exact", timeout=30
    )
    assert r.status_code == 200, f"{query}: {r.status_code} {r.text[:300]}"
    return r.json()


def quote_in(values):
    return "(" + ",".join('"' + str(v).replace('"', '""') + '"' for v in values) + ")"


@check("RemoteCKAN datastore_search with filters answers what /v1 records answers")
def _():
    from urllib.parse import quote

    compared = 0
    for path in DATASETS:
        agency, slug = path.split("/")
        package = CKAN.action.package_show(id=f"{agency}_{slug}")
        for res in package["resources"]:
            version = res["version"]
            first = CKAN.action.datastore_search(resource_id=res["id"], limit=50)
            assert first["total"] == res["row_count"], (first["total"], res)
            types = {f["id"]: f["type"] for f in first["fields"]}
            text = next(n for n, t in types.items() if t == "text")
            number = next((n for n, t in types.items() if t in ("int", "numeric") and n != "_id"), None)
            values = sorted({r[text] for r in first["records"] if r[text] is not None})[:2]
            cases = [
                ({text: values[0]}, f"{quote(text)}=eq.{quote(values[0])}"),
                ({text: values}, f"{quote(text)}=in.{quote(quote_in(values))}"),
            ]
            if number is not None:
                nums = sorted(r[number] for r in first["records"] if r[number] is not None)
                lo, hi = nums[len(nums) // 4], nums[3 * len(nums) // 4]
                cases.append(
                    (
                        {text: values, number: {"gte": lo, "lte": hi}},
                        f"{quote(text)}=in.{quote(quote_in(values))}&{quote(number)}=gte.{lo}&{quote(number)}=lte.{hi}",
                    )
                )
            for filters, query in cases:
                got = CKAN.action.datastore_search(
                    resource_id=res["id"], filters=filters, sort="_id desc", limit=40, offset=1
                )
                want = v1_records(path, version, f"{query}&order=_id.desc&limit=40&offset=1")
                assert got["records"] == want["data"], (res["id"], filters, got["records"][:2], want["data"][:2])
                assert got["total"] == want["total"], (res["id"], filters, got["total"], want["total"])
                assert want["total"] > 0, (res["id"], filters, "the case should match rows")
                compared += 1
    assert compared >= 10, compared


def graph(path, fmt, accept=None):
    headers = {"Accept": accept} if accept else {}
    r = requests.get(BASE + path, headers=headers, timeout=30)
    assert r.status_code == 200, (path, r.status_code)
    g = rdflib.Graph()
    g.parse(data=r.text, format=fmt, publicID=BASE + "/")
    return g


def dcat_datasets(g):
    catalogs = list(g.subjects(RDF.type, DCAT.Catalog))
    assert len(catalogs) == 1, catalogs
    (cat,) = catalogs
    for p in (DCTERMS.title, DCTERMS.description, DCTERMS.publisher):
        assert g.value(cat, p) is not None, f"catalog lacks {p}"
    return cat, sorted(g.objects(cat, DCAT.dataset))


@check("rdflib: DCAT-AP 3 JSON-LD and Turtle describe every dataset with the mandatory properties")
def _():
    jsonld = graph("/catalog.jsonld", "json-ld")
    turtle = graph("/catalog.ttl", "turtle")
    negotiated = graph("/catalog.jsonld", "turtle", accept="text/turtle")
    assert len(jsonld) == len(turtle) == len(negotiated) > 0, (len(jsonld), len(turtle), len(negotiated))
    for g in (jsonld, turtle):
        cat, datasets = dcat_datasets(g)
        paths = sorted(str(d).split("/v1/datasets/")[1] for d in datasets)
        assert paths == DATASETS, paths
        for d in datasets:
            assert (d, RDF.type, DCAT.Dataset) in g, d
            for p in (DCTERMS.title, DCTERMS.description, DCTERMS.publisher, DCAT.contactPoint,
                      DCAT.keyword, DCAT.theme, DCTERMS.accrualPeriodicity, DCTERMS.issued,
                      DCTERMS.modified, DCTERMS.license, DCTERMS.spatial, DCTERMS.temporal):
                assert g.value(d, p) is not None, f"{d} lacks {p}"
            assert str(g.value(d, DCTERMS.accrualPeriodicity)).startswith(
                "http://publications.europa.eu/resource/authority/frequency/"
            )
            versions = get_json(f"/v1/datasets/{str(d).split('/v1/datasets/')[1]}/versions")["data"]
            readable = sorted(v["version"] for v in versions if v["status"] != "draft")
            has = sorted(int(str(v).rsplit("/", 1)[1]) for v in g.objects(d, DCAT.hasVersion))
            assert has == readable, (d, has, readable)
            for n in readable[1:]:
                prev = g.value(rdflib.URIRef(f"{d}/versions/{n}"), DCAT.previousVersion)
                assert str(prev).endswith(f"/versions/{n - 1}"), (d, n, prev)
            dists = list(g.objects(d, DCAT.distribution))
            assert len(dists) == 2 * len(readable), (d, dists)
            for dist in dists:
                assert (dist, RDF.type, DCAT.Distribution) in g
                assert g.value(dist, DCAT.accessURL) is not None
                assert g.value(dist, DCAT.downloadURL) is not None
                assert g.value(dist, DCAT.mediaType) is not None
                if str(g.value(dist, DCAT.mediaType)).endswith("/text/csv"):
                    body = requests.get(str(g.value(dist, DCAT.downloadURL)), timeout=60).content
                    assert int(g.value(dist, DCAT.byteSize)) == len(body), dist
                    checksum = g.value(dist, SPDX.checksum)
                    assert str(g.value(checksum, SPDX.checksumValue)) == hashlib.sha256(body).hexdigest(), dist
        services = list(g.objects(cat, DCAT.service))
        assert len(services) == len(DATASETS), services
        for s in services:
            assert (s, RDF.type, DCAT.DataService) in g
            assert g.value(s, DCTERMS.title) is not None
            assert g.value(s, DCAT.endpointURL) is not None
            assert str(g.value(s, DCAT.endpointDescription)).endswith("/openapi.json")


@check("frictionless validates every version's datapackage.json")
def _():
    validated = 0
    for path in DATASETS:
        for v in get_json(f"/v1/datasets/{path}/versions")["data"]:
            if v["status"] == "draft":
                continue
            url = f"{BASE}/v1/datasets/{path}/versions/{v['version']}/datapackage.json"
            report = validate(url)
            assert report.valid, (url, report.flatten(["type", "note"])[:10])
            validated += 1
    assert validated >= len(DATASETS), validated


@check("the catalogues agree: /v1/datasets, CKAN package_list, DCAT and data.json")
def _():
    ckan = sorted(package_to_path(n) for n in CKAN.action.package_list())
    _, dcat = dcat_datasets(graph("/catalog.jsonld", "json-ld"))
    dcat = sorted(str(d).split("/v1/datasets/")[1] for d in dcat)
    pod = sorted(d["identifier"].split("/v1/datasets/")[1] for d in get_json("/data.json")["dataset"])
    assert DATASETS == ckan == dcat == pod, (DATASETS, ckan, dcat, pod)


failed = 0
for name, f in CHECKS:
    try:
        f()
        print(f"ok   {name}")
    except Exception as e:  # report every check, then fail
        failed += 1
        print(f"FAIL {name}: {type(e).__name__}: {str(e)[:3000]}", file=sys.stderr)
if failed:
    print(f"{failed} of {len(CHECKS)} interoperability checks failed", file=sys.stderr)
    sys.exit(1)
print(f"all {len(CHECKS)} interoperability checks passed")
