"""Validates Gerbang's OpenAPI documents on a running server (issue 5's CI check).

- /v1/openapi.json and the document of every published version of every dataset pass
  openapi-spec-validator (OpenAPI 3.1);
- each version document lists every column of the version's schema as a query parameter and
  as a typed Record property with an example taken from the data;
- prints the path of one version document and a fresh developer key for schemathesis.
Usage: python openapi_check.py BASE_URL OUT_DIR
"""
import json
import sys
import urllib.request

from openapi_spec_validator import validate

BASE = sys.argv[1].rstrip("/")
OUT = sys.argv[2]

TYPES = {
    "integer": ("integer", "int64"),
    "number": ("number", "double"),
    "boolean": ("boolean", None),
    "string": ("string", None),
    "date": ("string", "date"),
    "datetime": ("string", "date-time"),
}


def get(path, headers=None):
    req = urllib.request.Request(BASE + path, headers=headers or {})
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.load(res)


def post(path, body):
    req = urllib.request.Request(
        BASE + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.load(res)


platform = get("/v1/openapi.json")
validate(platform)
with open(f"{OUT}/platform.json", "w") as f:
    json.dump(platform, f)
print(f"platform document valid: {len(platform['paths'])} paths", file=sys.stderr)

checked = 0
version_docs = []
for ds in get("/v1/datasets?limit=100")["data"]:
    a, d = ds["agency"], ds["slug"]
    meta = get(f"/v1/datasets/{a}/{d}")
    for v in meta["versions"]:
        if v["status"] == "draft":
            continue
        n = v["version"]
        version = get(f"/v1/datasets/{a}/{d}/versions/{n}")
        doc = get(f"/v1/datasets/{a}/{d}/versions/{n}/openapi.json")
        validate(doc)
        records = doc["paths"][f"/v1/datasets/{a}/{d}/versions/{n}/records"]["get"]
        params = {p["name"]: p for p in records["parameters"]}
        props = doc["components"]["schemas"]["Record"]["properties"]
        for field in version["schema"]["fields"]:
            name, ty = field["name"], field["type"]
            want_type, want_format = TYPES[ty]
            assert name in params, f"{a}/{d} v{n}: no parameter for column {name}"
            prop = props[name]
            types = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
            assert types[0] == want_type, f"{a}/{d} v{n} {name}: {types} != {want_type}"
            assert prop.get("format") == want_format, f"{a}/{d} v{n} {name}: format {prop.get('format')}"
            assert prop.get("examples"), f"{a}/{d} v{n} {name}: no example"
        path = f"{OUT}/{a}__{d}__v{n}.json"
        with open(path, "w") as f:
            json.dump(doc, f)
        version_docs.append(f"/v1/datasets/{a}/{d}/versions/{n}/openapi.json")
        checked += 1
assert checked > 0, "the demo has no published version"
print(f"{checked} version documents valid, every column typed with an example", file=sys.stderr)

key = post("/v1/developers", {"email": "schemathesis@contoh.id", "name": "CI"})["api_key"]["key"]
print(key)
for p in version_docs:
    print(p)
