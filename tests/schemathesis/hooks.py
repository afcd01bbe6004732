"""Schemathesis hooks for tests/server_openapi_schemathesis.rs.

The OpenAPI document says which requests are well formed; a few valid
requests still depend on what the store holds or on one parameter given
with another, which JSON Schema cannot say. For positive cases only (the
ones schemathesis expects the server to accept), `before_call`, which runs
in every phase just before a request is sent, keeps such values within
what the test's store can honour, and says why each time. Negative cases go
out as generated, except that no case may ask to follow the log (a follow
never ends). Nothing here relaxes a check.
"""

import json
import re

import schemathesis

# The test's store holds at least this many records before the run starts:
# `@N` and `from=N` up to it name records that exist.
SEEDED_RECORDS = 2
AT_OFFSET = re.compile(r"^@[0-9]+$")
TIME_KEYS = ("as_of", "since", "until")


def _positive(case):
    meta = case.meta
    return meta is not None and meta.generation.mode.is_positive


def _known_offset(value):
    """`@N` past the end of the log is refused (400, as documented): keep N within the seeded records."""
    if isinstance(value, str) and AT_OFFSET.match(value):
        return "@%d" % min(int(value[1:]), SEEDED_RECORDS - 1)
    return value


INTEGER_MIN, INTEGER_MAX = -(2**63), 2**64 - 1


def _whole_numbers(value):
    """JSON Schema counts 1.0 as an integer; serde reads an integer field only
    when it is written without a fraction, so the server refuses `1.0`. And
    item data may hold integers of 64 bits only, which the document says in
    words (ItemBody.data): an integer out of range is brought back within it."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return max(INTEGER_MIN, min(value, INTEGER_MAX))
    if isinstance(value, dict):
        return {key: _whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(item) for item in value]
    return value


@schemathesis.deserializer("application/x-ndjson")
def ndjson(ctx, response):
    """The document describes an NDJSON answer as the array of its lines,
    so that each line is checked against the element schema."""
    return [json.loads(line) for line in response.content.splitlines() if line.strip()]


@schemathesis.hook
def filter_case(context, case):
    path = case.operation.path
    # A follow stays open until the server stops: nothing can read it to its end.
    follow = (case.query or {}).get("follow")
    if path == "/v1/log" and follow in (True, "true", "1", ""):
        return False
    return True


@schemathesis.hook
def before_call(context, case, kwargs):
    """Runs on every case just before it is sent, in every phase (the
    stateful one builds its cases without the generation hooks)."""
    query = case.query or {}
    if case.operation.path == "/v1/log" and query.get("follow") in (True, "true", "1", ""):
        query["follow"] = "false"
    if _positive(case):
        _keep_within_store(case)


def _keep_within_store(case):
    path, method = case.operation.path, case.operation.method.upper()
    query = case.query or {}
    for key in TIME_KEYS:
        if key in query:
            query[key] = _known_offset(query[key])
    if path == "/v1/log" and isinstance(query.get("from"), int):
        # `from` past the next offset is refused, as documented.
        query["from"] = min(query["from"], SEEDED_RECORDS)
    if path == "/v1/log" and "from" in query and "group" in query:
        # A group resumes at its commit: `from` with `group` is refused.
        del query["from"]
    if path == "/v1/query" and query.get("ids_only") in ("true", "1", "") and query.get("with_data") in ("true", "1", ""):
        # ids_only and with_data ask for different answers.
        del query["with_data"]
    if path in ("/v1/items", "/v1/items/{id}") and method in ("POST", "PUT"):
        if case.media_type == "application/json":
            # Query parameters set a byte upload's metadata; on a JSON envelope they are refused.
            query = {}
        elif "meta" in query:
            # The document can say only that `meta` is a string holding a JSON object.
            query["meta"] = "{}"
    if path == "/v1/search" and isinstance(query.get("q"), str):
        # q is tantivy's query syntax, a grammar JSON Schema cannot state:
        # words alone always parse.
        query["q"] = re.sub(r"[^0-9a-z]+", " ", query["q"].lower())
    if path == "/v1/items" and isinstance(query.get("id"), str):
        # Schemathesis puts a created id into the next request's path
        # without escaping `%`, so the path would name another id.
        query["id"] = query["id"].replace("%", "_")
    if path == "/v1/items/{id}" and method == "PUT" and isinstance(case.body, dict):
        # A metadata id other than the path's is refused.
        metadata = case.body.get("metadata")
        if isinstance(metadata, dict):
            metadata.pop("id", None)
    if case.media_type == "application/json" and case.body is not None:
        case.body = _whole_numbers(case.body)
    body = case.body if isinstance(case.body, dict) else None
    if body is not None and path == "/v1/consumers/{group}/commit" and isinstance(body.get("offset"), int):
        # A commit past the end of the log is refused, as documented.
        body["offset"] = min(body["offset"], SEEDED_RECORDS)
    if body is not None and path == "/v1/consumers/{group}/reset" and "to" in body:
        body["to"] = _known_offset(body["to"])
    if body is not None and path == "/v1/admin/compact":
        if body.get("before") is not None and body.get("retention_days") is not None:
            # before and retention_days both set the cutoff: one of them is refused.
            del body["retention_days"]
        if "before" in body:
            body["before"] = _known_offset(body["before"])
    case.query = query
