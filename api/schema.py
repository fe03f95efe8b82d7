"""The error answers of every operation, documented in one place (a drf-spectacular
postprocessing hook, SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]).

Which statuses an operation can answer follows from what is true of every view here, read
from the operation itself rather than listed view by view:

- any operation: 400 (a NUL or an invisible character in the path or query, a bad filter:
  config/input_guard.py), 401 (a bad, expired or revoked token, even on reads), 406
  (an Accept it cannot answer), 429 (throttled) and 503 (a database, the cache or the
  reference data missing: api/exceptions.py);
- with a path parameter: 404 (no such record, or one you may not see); with a `page` or
  `cursor` parameter too (past the last page, a bad cursor);
- with query parameters: 414 (the server's limit on the URL's length, not JSON);
- writes (POST, PUT, PATCH, DELETE): 403 (not yours) and 409 (stale or in the wrong state);
- updates (PUT, PATCH, DELETE): 412 (If-Match or version not current) and 428 (neither sent);
- with a body: 413 (over the size limit) and 415 (a media type it does not parse);
- a conditional GET (an If-None-Match parameter): 304, with no body.

422 (config.errors.OutOfScope) is raised by no view today, so it is documented nowhere.
What a view declares itself (a 404 "No such passport you may see") is kept.
"""

from __future__ import annotations

UNSAFE = frozenset({"post", "put", "patch", "delete"})
UPDATES = frozenset({"put", "patch", "delete"})

DESCRIPTIONS = {
    304: "Not modified: the ETag you sent is current",
    400: "Refused as sent: {field: [messages]} for the body or a filter, {detail} otherwise",
    401: "Not authenticated: no, a bad, an expired or a revoked token",
    403: "Not allowed to you",
    404: "No such record, or not one you may see",
    406: "Cannot answer in a media type the Accept header allows",
    409: "Conflicts with the current state (a stale version, a duplicate, the wrong state)",
    412: "If-Match (or version) is not the record's current one: read it again",
    413: "The request body is larger than the limit named in the message",
    414: "The URL is longer than the server accepts (answered by the server, not as JSON)",
    415: "The request body's media type is not one this operation reads",
    429: "Too many requests: retry after the Retry-After header's seconds",
    503: "A service or the reference data the answer needs is not available",
    428: "An update must name the version it changes (If-Match or version)",
}

# {"detail": "..."} always, except 400, which may be the fields' messages.
ERROR = {
    "type": "object",
    "description": "What went wrong.",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
VALIDATION_ERROR = {
    "description": (
        "What was refused: {field: [messages]} (a field may hold nested errors), "
        '{"detail": message}, or a list of messages.'
    ),
    "oneOf": [
        {"type": "object", "additionalProperties": {}},
        {"type": "array", "items": {"type": "string"}},
    ],
}


def statuses(method: str, operation: dict) -> set[int]:
    codes = {400, 401, 406, 429, 503}
    parameters = operation.get("parameters", [])
    # A missing record, or a page past the last or a bad cursor (DRF's pagination: 404).
    if any(p.get("in") == "path" or p.get("name") in ("page", "cursor") for p in parameters):
        codes.add(404)
    # The server's limit on the request line (gunicorn: 4094 bytes), before the app.
    if any(p.get("in") == "query" for p in parameters):
        codes.add(414)
    if method in UNSAFE:
        codes |= {403, 409}
    if method in UPDATES:
        codes |= {412, 428}
    if "requestBody" in operation:
        codes |= {413, 415}
    if any(p.get("name") == "If-None-Match" for p in parameters):
        codes.add(304)
    return codes


def error_responses(result, generator, request, public):
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR)
    schemas["ValidationError"] = VALIDATION_ERROR
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            for code in sorted(statuses(method, operation)):
                if str(code) in responses:
                    continue
                responses[str(code)] = {"description": DESCRIPTIONS[code]}
                if code not in (304, 414):  # answered without a JSON body
                    name = "ValidationError" if code == 400 else "Error"
                    ref = {"$ref": f"#/components/schemas/{name}"}
                    responses[str(code)]["content"] = {"application/json": {"schema": ref}}
    return result
