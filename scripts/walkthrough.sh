#!/usr/bin/env bash
# The README walk-through as one script, against a running `make dev` (API on $API).
set -euo pipefail
API=${API:-http://127.0.0.1:3000}
cd "$(dirname "$0")/.."
json() { python3 -c "import sys, json; print(json.load(sys.stdin)$1)"; }

# Create the template (or, on a second run, store it as a new version).
if ! curl -sf -XPOST "$API/templates" -d @examples/welcome-template.json >/dev/null; then
  python3 -c "import json; t=json.load(open('examples/welcome-template.json')); t.pop('id'); print(json.dumps(t))" |
    curl -sf -XPUT "$API/templates/welcome" -d @- >/dev/null
fi
echo "template: welcome"
curl -s -XPOST "$API/templates/welcome/preview" \
  -d '{"row":{"Email":"kim@example.com","Name":"Kim","City":"Seoul"},"vars":{"brand":"fanmail"}}' |
  json '["subject"]' | sed 's/^/preview: /'
UPLOAD=$(curl -s -XPOST "$API/uploads" -d "{\"kind\":\"list\",\"contentType\":\"text/csv\",\"size\":$(wc -c < examples/recipients.csv)}")
KEY=$(echo "$UPLOAD" | json '["key"]')
curl -s -o /dev/null -w 'upload: HTTP %{http_code}\n' -XPUT -H 'content-type: text/csv' --data-binary @examples/recipients.csv "$(echo "$UPLOAD" | json '["uploadUrl"]')"
CAMPAIGN=$(curl -s -XPOST "$API/campaigns" \
  -d "{\"templateId\":\"welcome\",\"listKey\":\"$KEY\",\"from\":{\"address\":\"news@example.com\",\"name\":\"Fanmail\"},\"vars\":{\"brand\":\"fanmail\"}}" | json '["id"]')
echo "campaign: $CAMPAIGN"
for _ in $(seq 1 60); do
  STATUS=$(curl -s "$API/campaigns/$CAMPAIGN" | json '["status"]')
  [ "$STATUS" = completed ] || [ "$STATUS" = failed ] && break
  sleep 1
done
curl -s "$API/campaigns/$CAMPAIGN" | json '["counters"]'
curl -s "$API/campaigns/$CAMPAIGN/rejected-rows" | json '["items"]'
curl -s "$API/stats/sent?hours=24"; echo
curl -s "$API/campaigns?limit=3" | json '["items"][0]["id"]' | sed 's/^/newest campaign: /'

# Delivery results: the SES mailbox simulator's addresses, then a one-click unsubscribe.
UPLOAD=$(curl -s -XPOST "$API/uploads" -d "{\"kind\":\"list\",\"contentType\":\"text/csv\",\"size\":$(wc -c < examples/simulator-recipients.csv)}")
SIM_KEY=$(echo "$UPLOAD" | json '["key"]')
curl -s -o /dev/null -w 'upload: HTTP %{http_code}\n' -XPUT -H 'content-type: text/csv' --data-binary @examples/simulator-recipients.csv "$(echo "$UPLOAD" | json '["uploadUrl"]')"
SIM=$(curl -s -XPOST "$API/campaigns" \
  -d "{\"templateId\":\"welcome\",\"listKey\":\"$SIM_KEY\",\"from\":{\"address\":\"news@example.com\"},\"vars\":{\"brand\":\"fanmail\"}}" | json '["id"]')
echo "simulator campaign: $SIM"
for _ in $(seq 1 60); do
  DONE=$(curl -s "$API/campaigns/$SIM" | json '["counters"]["delivered"] + 0 >= 4 and 1 or 0' 2>/dev/null || echo 0)
  [ "$DONE" = 1 ] && break
  sleep 1
done
curl -s "$API/campaigns/$SIM" | json '["counters"]'
curl -s "$API/suppressions" | json '["items"]'
