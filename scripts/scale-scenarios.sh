#!/usr/bin/env bash
# `make scale`: the simulation's scenarios (docs/scaling.md), one report each in
# target/scenarios/, then one table. The low-quota runs mostly wait, so they run side by side
# with the fault runs; the 1,000,000-row runs come last, alone (the second with a small
# campaign started 60 s in, to compare with the first). Exits non-zero if any run lost
# a recipient, mailed one twice, or ended stuck.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/fanmail-bench
out=target/scenarios
mkdir -p "$out"
rm -f "$out"/*.json "$out"/*.log "$out"/failed
# No fault but the scenario's own.
quiet="--error-rate 0 --crash-rate 0 --duplicate-rate 0"

run() {
    local name=$1
    shift
    if ! "$bin" scale --report "$out/$name.json" "$@" >"$out/$name.log" 2>&1; then
        echo "$name" >>"$out/failed"
    fi
    echo "done: $name"
}

low_quotas() {
    run 01-sandbox-200-recipients --rows 213 --quota 1 --daily-quota 200 --concurrency 5 $quiet --suppress-every 0 --max-wall 900 &
    run 02-sandbox-over-the-daily-quota --rows 265 --quota 1 --daily-quota 200 --concurrency 5 $quiet --suppress-every 0 --max-wall 900 &
    run 03-new-production-account-14ps --rows 3000 --quota 14 --concurrency 2 $quiet --max-wall 900 &
    run 04-100ps-30000-recipients --rows 31580 --quota 100 --concurrency 2 --max-wall 900 &
    wait
}

faults() {
    run 05-getaccount-says-3x-the-rate --rows 10000 --quota 100 --reported-quota 300 --concurrency 2 $quiet
    run 06-answers-lost-to-the-sdk-timeout --rows 10000 --quota 500 --concurrency 10 $quiet --slow-reply-rate 0.01
    run 07-ses-pauses-the-account-mid-campaign --rows 10000 --quota 500 --concurrency 10 $quiet --pause-after 3000 --reinstate-after 30
    run 08-dynamodb-throttles-every-50th-write --rows 10000 --quota 500 --concurrency 10 $quiet --store-throttle-every 50
    run 09-crashes-2pct-per-point --rows 10000 --quota 500 --concurrency 10 --crash-rate 0.02 --crash-for 20 --time-scale 6
    run 10-every-fault-at-once-ci-preset --ci
}

cargo build --release -p fanmail-bench
low_quotas &
faults
wait
run 11-1000000-rows-3500ps
run 12-and-a-1000-row-campaign-60s-later --second-rows 1053 --second-after 60
"$bin" table "$out"/*.json | tee "$out/table.md"
if [[ -s "$out/failed" ]]; then
    echo "failed: $(tr '\n' ' ' <"$out/failed")(logs in $out)" >&2
    exit 1
fi
