#!/usr/bin/env bash
# The local AWS stand-ins, on free loopback ports:
#   moto_server       S3, DynamoDB, SNS, EventBridge Scheduler, Secrets Manager
#   moto_server       SQS, in a process of its own: the services share no state, and one
#                     Python process serves one request at a time, so the two run side by side
#   aws-ses-v2-local  SES v2 (sent mail at http://127.0.0.1:<port>/, JSON at /store), through
#                     infra/local/ses_server.js (bounded memory, /fanmail/destinations)
#
#   scripts/local-aws.sh start   start them (or reuse running ones); writes .local/aws.env
#   scripts/local-aws.sh stop    stop them
#   scripts/local-aws.sh status  exit 0 when all answer
#
# .local/aws.env holds the AWS_ENDPOINT_URL* settings every local tool and test reads.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
state="$root/.local"
envfile="$state/aws.env"
mkdir -p "$state"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

answers() { # answers <url>: any HTTP answer counts (python3 is on every machine; curl may not be)
  python3 - "$1" <<'PY' 2>/dev/null
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=2)
except urllib.error.HTTPError:
    pass
PY
}

running() {
  [ -f "$envfile" ] || return 1
  # shellcheck disable=SC1090
  . "$envfile"
  [ -n "${AWS_ENDPOINT_URL_SQS:-}" ] || return 1
  answers "$AWS_ENDPOINT_URL/moto-api/" && answers "$AWS_ENDPOINT_URL_SQS/moto-api/" \
    && answers "$AWS_ENDPOINT_URL_SESV2/store"
}

wait_for() { # wait_for <url> <name> <log>
  for _ in $(seq 1 100); do
    if answers "$1"; then return 0; fi
    sleep 0.2
  done
  echo "local-aws: $2 did not start; its log follows" >&2
  cat "$3" >&2
  exit 1
}

stop() {
  for name in moto moto-sqs ses; do
    if [ -f "$state/$name.pid" ]; then
      kill "$(cat "$state/$name.pid")" 2>/dev/null || true
      rm -f "$state/$name.pid"
    fi
  done
  rm -f "$envfile"
}

start() {
  if running; then
    echo "local-aws: reusing running stack ($AWS_ENDPOINT_URL, SES $AWS_ENDPOINT_URL_SESV2)" >&2
    return 0
  fi
  stop
  "$root/scripts/tools.sh" aws
  moto_port=$(free_port)
  sqs_port=$(free_port)
  while [ "$sqs_port" = "$moto_port" ]; do sqs_port=$(free_port); done
  ses_port=$(free_port)
  while [ "$ses_port" = "$moto_port" ] || [ "$ses_port" = "$sqs_port" ]; do ses_port=$(free_port); done

  # setsid: the servers outlive this script (make dev, a test run, a later test run).
  # moto's own server, with the two DynamoDB fixes explained in infra/local/moto_server.py.
  setsid "$root/.tools/venv-aws/bin/python" "$root/infra/local/moto_server.py" -H 127.0.0.1 -p "$moto_port" \
    >"$state/moto.log" 2>&1 < /dev/null &
  echo $! >"$state/moto.pid"
  setsid "$root/.tools/venv-aws/bin/python" "$root/infra/local/moto_server.py" -H 127.0.0.1 -p "$sqs_port" \
    >"$state/moto-sqs.log" 2>&1 < /dev/null &
  echo $! >"$state/moto-sqs.pid"
  AWS_SES_ACCOUNT=$(tr -d '\n' < "$root/infra/local/ses-account.json") \
    setsid node "$root/infra/local/ses_server.js" --host 127.0.0.1 --port "$ses_port" \
    >"$state/ses.log" 2>&1 < /dev/null &
  echo $! >"$state/ses.pid"

  wait_for "http://127.0.0.1:$moto_port/moto-api/" moto "$state/moto.log"
  wait_for "http://127.0.0.1:$sqs_port/moto-api/" moto-sqs "$state/moto-sqs.log"
  wait_for "http://127.0.0.1:$ses_port/store" aws-ses-v2-local "$state/ses.log"

  cat >"$envfile" <<ENV
export AWS_ENDPOINT_URL=http://127.0.0.1:$moto_port
export AWS_ENDPOINT_URL_SQS=http://127.0.0.1:$sqs_port
export AWS_ENDPOINT_URL_SESV2=http://127.0.0.1:$ses_port
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_EC2_METADATA_DISABLED=true
ENV
  echo "local-aws: moto on :$moto_port (SQS on :$sqs_port), aws-ses-v2-local on :$ses_port (settings in .local/aws.env)" >&2
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) running ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
