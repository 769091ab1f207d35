# fanmail. The two commands a newcomer needs:  make dev   and   make test
SHELL := /bin/bash
.DEFAULT_GOAL := help

TOOLS := scripts/tools.sh
LOCAL_AWS := scripts/local-aws.sh
WITH_LOCAL_AWS := set -a && . .local/aws.env && set +a &&
SAM_ENV := AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0
# Test binaries (not cargo) run under this to see the system date moved ahead.
HOST_RUNNER_VAR := CARGO_TARGET_$(shell rustc -vV | sed -n 's/^host: //p' | tr 'a-z.-' 'A-Z__')_RUNNER
FUTURE := +2y
NEXTEST := $(shell cargo nextest --version >/dev/null 2>&1 && echo "cargo nextest run" || echo "cargo test")

.PHONY: help dev test fuzz deny unit unit-future check fmt validate build deploy bench bench-local scale local-aws stop tools clean

help: ## list the targets
	@grep -E '^[a-z%-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

dev: tools local-aws ## run the whole pipeline locally: local AWS, every function, API on http://127.0.0.1:3000
	cargo build --bin fanmail-local --bin fanmail
	$(WITH_LOCAL_AWS) target/debug/fanmail-local dev --port $${PORT:-3000} --parameters "$${PARAMETERS:-}"

test: tools local-aws check deny validate ## every test: fmt, clippy, template lint, unit, integration and smoke tests, every API exchange against docs/openapi.yaml, every route fuzzed from it, the tests' logs searched for addresses and tokens, every AWS call held against its function's IAM policy; the unit tests again two years ahead
	cargo build --workspace --bins
	rm -rf target/exchanges target/logs target/calls
	$(WITH_LOCAL_AWS) FANMAIL_RECORD_EXCHANGES=$(CURDIR)/target/exchanges FANMAIL_LOG_CAPTURE=$(CURDIR)/target/logs FANMAIL_RECORD_CALLS=$(CURDIR)/target/calls $(NEXTEST) --workspace
	.tools/venv-api/bin/python scripts/check-openapi.py docs/openapi.yaml target/exchanges
	python3 scripts/check-logs.py target/logs
	FANMAIL_RECORD_CALLS=$(CURDIR)/target/calls scripts/fuzz-api.sh 90
	target/debug/fanmail-local permissions target/calls
	$(MAKE) --no-print-directory unit-future

fuzz: tools local-aws ## every route of the local API fuzzed from docs/openapi.yaml (schemathesis; SECONDS=90)
	cargo build --bin fanmail-local
	scripts/fuzz-api.sh $(or $(SECONDS),90)

unit: ## unit tests only (no local AWS needed)
	$(NEXTEST) --workspace --lib

unit-future: tools ## the unit tests with the system date moved two years ahead (faketime): no test may depend on today's date
	@now=$$(date -u +%Y); then=$$(FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f '$(FUTURE)' date -u +%Y); \
	  [ "$$then" -gt "$$now" ] || { echo "faketime did not move the date ($$now -> $$then)" >&2; exit 1; }; \
	  echo "unit tests with the system date in $$then"
	FAKETIME_DONT_FAKE_MONOTONIC=1 $(HOST_RUNNER_VAR)="faketime -f $(FUTURE)" $(NEXTEST) --workspace --lib

check: ## formatting and clippy, warnings are errors
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt: ## format the code
	cargo fmt --all

deny: tools ## the dependency tree's licenses, bans (one HTTPS stack) and sources (deny.toml)
	.tools/cargo-deny/bin/cargo-deny check --hide-inclusion-graph licenses bans sources

validate: tools ## cfn-lint and sam validate --lint on template.yaml (offline)
	$(SAM_ENV) .tools/venv-sam/bin/cfn-lint template.yaml infra/ses-identity.yaml
	$(SAM_ENV) .tools/venv-sam/bin/sam validate --lint

bench: tools local-aws ## release-mode figures: render rate, 1M-row list (CSV and .xlsx) CPU and memory, hot-path CPU per mail, AWS calls per 1,000 mails
	cargo build --release -p fanmail-bench
	target/release/fanmail-bench render
	target/release/fanmail-bench list
	target/release/fanmail-bench xlsx
	target/release/fanmail-bench hotpath
	$(WITH_LOCAL_AWS) target/release/fanmail-bench pipeline

bench-local: tools local-aws ## one campaign of N recipients (N=30000) through the local stack: time, mails/s, calls, memory, exactly-once; then 2,000 at the template's own rate (14/s, as make dev)
	cargo build --release -p fanmail-bench
	$(WITH_LOCAL_AWS) target/release/fanmail-bench pipeline $(or $(N),30000)
	$(WITH_LOCAL_AWS) target/release/fanmail-bench pipeline 2000 --template-defaults

scale: ## release-mode simulation of the real splitter and sender, one run per scenario (quotas from the sandbox up, faults, 1,000,000 rows): table in target/scenarios/table.md (about 17 min)
	scripts/scale-scenarios.sh

build: tools ## Lambda artifacts for deployment (needs the aarch64-unknown-linux-gnu target; sam build does this too)
	PATH=$(CURDIR)/.tools/venv-aws/bin:$$PATH cargo lambda build --release --arm64 --workspace

deploy: tools ## build and deploy with SAM (needs AWS credentials; the first run is guided)
	$(SAM_ENV) .tools/venv-sam/bin/sam build
	.tools/venv-sam/bin/sam deploy --guided

invoke-%: tools ## invoke one function's binary with a fixture: make invoke-api EVENT=events/api/health.json
	scripts/invoke.sh $* $(EVENT)

local-aws: tools ## start (or reuse) the local AWS stand-ins; settings in .local/aws.env
	$(LOCAL_AWS) start

stop: ## stop the local AWS stand-ins
	$(LOCAL_AWS) stop

tools: ## install the pinned local tools into .tools/
	$(TOOLS) all

clean: stop ## remove build output and local state
	cargo clean
	rm -rf .local
