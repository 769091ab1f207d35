#!/usr/bin/env bash
# Invokes one function's real binary as a Lambda with a fixture, against the local stack:
#   scripts/invoke.sh <function> [event.json]      e.g. scripts/invoke.sh api events/api/health.json
# <function> is a crate under crates/ (upload-url, api, splitter, trigger, sender, recorder).
# The binary runs under cargo-lambda's runtime emulator with its environment resolved from
# template.yaml, exactly as the smoke test does.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
fn=${1:?usage: scripts/invoke.sh <function> [event.json]}
event=${2:-$(ls "events/$fn"/*.json | head -n 1)}
case "$fn" in
  upload-url) logical=UploadUrlFunction ;;
  api) logical=ApiFunction ;;
  splitter) logical=SplitterFunction ;;
  trigger) logical=TriggerFunction ;;
  sender) logical=SenderFunction ;;
  recorder) logical=RecorderFunction ;;
  *) echo "unknown function '$fn'" >&2; exit 2 ;;
esac

scripts/local-aws.sh start
# shellcheck disable=SC1091
. .local/aws.env
cargo build -q --bin "fanmail-$fn" --bin fanmail-local
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
lambda="$root/.tools/venv-aws/bin/cargo-lambda"

"$lambda" lambda watch --only-lambda-apis --invoke-address 127.0.0.1 --invoke-port "$port" >.local/emulator.log 2>&1 &
emulator=$!
env_file=$(mktemp)
trap 'kill $emulator ${binary:-} 2>/dev/null || true; rm -f "$env_file"' EXIT
target/debug/fanmail-local env "$logical" >"$env_file"
for _ in $(seq 1 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break; sleep 0.1; done

env $(cat "$env_file") AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$port/.rt" AWS_LAMBDA_FUNCTION_NAME=_ \
  AWS_LAMBDA_FUNCTION_VERSION=1 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256 "target/debug/fanmail-$fn" &
binary=$!
"$lambda" lambda invoke _ --invoke-address 127.0.0.1 --invoke-port "$port" --data-file "$event" -o json
