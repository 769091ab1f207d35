#!/usr/bin/env bash
# Fuzzes every route of the local API from its description (docs/openapi.yaml) with
# schemathesis: generated and boundary requests, then stateful sequences, for a time budget.
# Fails on any 5xx (a panic is answered 500), an answer whose status or body the description
# does not allow (every 4xx must carry the JSON error body), or a wrong content type.
#   scripts/fuzz-api.sh [SECONDS]     (the local AWS stack must be running: make local-aws)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-90}
set -a; . .local/aws.env; set +a
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=target/fuzz-api.log
mkdir -p target
target/debug/fanmail-local dev --port "$port" --stack "fuzz$port" >"$log" 2>&1 &
runner=$!
trap 'kill $runner 2>/dev/null; wait $runner 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  kill -0 $runner 2>/dev/null || { echo "fuzz-api: the runner stopped; see $log" >&2; exit 1; }
  sleep 0.5
done
.tools/venv-api/bin/schemathesis run docs/openapi.yaml \
  --url "http://127.0.0.1:$port" \
  --max-time "$seconds" \
  --workers 2 \
  --request-timeout 30 --request-retries 2 \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --suppress-health-check too_slow,filter_too_much \
  --warnings off
