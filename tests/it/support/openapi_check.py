"""Checks one real response of the admin API against docs/openapi.json.

usage: openapi_check.py SPEC PATH METHOD STATUS CONTENT_TYPE BODY_FILE

The operation and the response status must be documented, the content type must be one the
response declares, and a JSON body must validate against its schema (JSON Schema 2020-12,
as OpenAPI 3.1 uses, with the document's own $refs). Exits 1 with the reasons otherwise.
"""
import json
import sys

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

spec_path, path, method, status, content_type, body_path = sys.argv[1:7]
spec = json.load(open(spec_path))
operation = spec["paths"].get(path, {}).get(method.lower())
if operation is None:
    sys.exit(f"{method} {path} is not documented")
response = operation["responses"].get(status)
if response is None:
    sys.exit(f"{method} {path}: status {status} is not documented")
pointer = ["paths", path, method.lower(), "responses", status]
if "$ref" in response:
    # A shared response (#/components/responses/...).
    pointer = response["$ref"].lstrip("#/").split("/")
    response = spec
    for part in pointer:
        response = response[part]
if method.upper() == "HEAD":
    sys.exit(0)
declared = response.get("content", {})
media = next((m for m in declared if m.split(";")[0].strip() == content_type.split(";")[0].strip()), None)
if media is None:
    sys.exit(f"{method} {path} {status}: content type {content_type!r} is not one of {list(declared)}")
body = open(body_path, "rb").read()
if media.startswith("application/json"):
    document = json.loads(body)
    registry = Registry().with_resource(
        "urn:spec", Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    pointer = pointer + ["content", media, "schema"]
    escaped = [part.replace("~", "~0").replace("/", "~1") for part in pointer]
    schema = {"$ref": "urn:spec#/" + "/".join(escaped)}
    validator = jsonschema.Draft202012Validator(schema, registry=registry, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    if errors:
        sys.exit("\n".join(f"{method} {path} {status}: {'/'.join(map(str, e.path))}: {e.message}" for e in errors))
