#!/usr/bin/env python3
"""Checks every API exchange the end-to-end tests recorded against docs/openapi.yaml.

usage: check-openapi.py SPEC DIR

The local gateway writes one JSON line per routed request when FANMAIL_RECORD_EXCHANGES
names DIR (`make test` sets it). Every response is checked (an error against the Error
schema); a request is checked when the API accepted it (2xx): a request the API takes must
be one the description allows. Security is not checked (nothing signs requests locally).
Exits 1 naming each kind of mismatch with an example.
"""
import collections
import glob
import json
import os
import sys
from urllib.parse import parse_qsl

import yaml
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.request.validators import V31RequestBodyValidator, V31RequestParametersValidator
from openapi_core.validation.response.validators import V31ResponseValidator

HOST = "http://127.0.0.1:3000"


def reason(error):
    """The innermost schema errors of an openapi-core error, on one line."""
    parts = [str(error)]
    cause = error.__cause__
    while cause is not None:
        parts.append(str(cause))
        inner = getattr(cause, "schema_errors", None)
        if inner:
            parts.extend(e.message for e in inner[:3])
        cause = cause.__cause__
    return " / ".join(p.replace("\n", " ")[:300] for p in parts)


def main(spec_path, directory):
    openapi = OpenAPI.from_file_path(spec_path)
    body_validator = V31RequestBodyValidator(openapi.spec)
    parameters_validator = V31RequestParametersValidator(openapi.spec)
    response_validator = V31ResponseValidator(openapi.spec)
    failures = collections.OrderedDict()
    checked = collections.Counter()
    for path in sorted(glob.glob(os.path.join(directory, "*.jsonl"))):
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                exchange = json.loads(line)
                route, status = exchange["routeKey"], exchange["status"]
                request = MockRequest(
                    HOST,
                    exchange["method"].lower(),
                    exchange["path"],
                    args=dict(parse_qsl(exchange["query"], keep_blank_values=True)),
                    headers={"content-type": exchange["requestContentType"] or "application/json"},
                    data=exchange["requestBody"].encode(),
                    content_type=(exchange["requestContentType"] or "application/json").split(";")[0],
                )
                response = MockResponse(
                    exchange["responseBody"].encode(),
                    status_code=status,
                    content_type=(exchange["responseContentType"] or "application/json").split(";")[0],
                )
                checks = [("response", lambda: response_validator.validate(request, response))]
                if 200 <= status < 300:
                    checks.append(("request parameters", lambda: parameters_validator.validate(request)))
                    if exchange["requestBody"]:
                        checks.append(("request body", lambda: body_validator.validate(request)))
                for what, check in checks:
                    try:
                        check()
                    except Exception as error:  # openapi-core raises one class per kind of mismatch
                        key = (route, status, what, type(error).__name__)
                        failures.setdefault(key, (reason(error), exchange))
                checked[route] += 1
    total = sum(checked.values())
    if total == 0:
        print(f"check-openapi: no exchanges recorded in {directory}", file=sys.stderr)
        return 1
    print(f"check-openapi: {total} requests and responses over {len(checked)} routes checked against {spec_path}")
    described = set()
    with open(spec_path, encoding="utf-8") as text:
        paths = yaml.safe_load(text)["paths"]
    for path, item in paths.items():
        described.update(f"{method.upper()} {path}" for method in ("get", "post", "put", "delete") if method in item)
    unexercised = sorted(described - set(checked))
    if unexercised:
        print(f"check-openapi: no exchange recorded for {', '.join(unexercised)}")
    for (route, status, what, kind), (why, exchange) in failures.items():
        print(f"  MISMATCH {route} -> {status}: {what}: {kind}: {why}", file=sys.stderr)
        print(f"    request  {exchange['requestBody'][:300]}", file=sys.stderr)
        print(f"    response {exchange['responseBody'][:300]}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
