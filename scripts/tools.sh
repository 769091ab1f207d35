#!/usr/bin/env bash
# Installs the pinned local tools into repo-local folders (nothing outside the repo):
#   .tools/venv-aws   moto[server], cargo-lambda, ziglang
#   .tools/venv-sam   aws-sam-cli, cfn-lint
#   .tools/venv-api   openapi-core and schemathesis (the API against docs/openapi.yaml)
#   .tools/node       aws-ses-v2-local
#   .tools/cargo-deny cargo-deny (licenses, bans and sources of the dependency tree)
# Each set is reinstalled only when its pin file changes. Debian packages the tests need
# (faketime, for the unit tests run with the date moved ahead) come from apt-get, once.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
mkdir -p "$tools"

python=${PYTHON:-python3}

stamp_ok() { # stamp_ok <stamp> <file>
  [ -f "$1" ] && [ "$(cat "$1")" = "$(sha256sum "$2" | cut -d' ' -f1)" ]
}
write_stamp() { sha256sum "$2" | cut -d' ' -f1 > "$1"; }

install_venv() { # install_venv <name> <requirements>
  local venv="$tools/$1" req="$2"
  if stamp_ok "$venv/.stamp" "$req"; then return 0; fi
  echo "tools: installing $(basename "$req") into .tools/$1" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
  write_stamp "$venv/.stamp" "$req"
}

install_node() {
  local dir="$tools/node" pkg="$root/infra/local/package.json"
  if stamp_ok "$dir/.stamp" "$pkg"; then return 0; fi
  echo "tools: installing aws-ses-v2-local into .tools/node" >&2
  rm -rf "$dir"
  mkdir -p "$dir"
  cp "$pkg" "$dir/package.json"
  [ -f "$root/infra/local/package-lock.json" ] && cp "$root/infra/local/package-lock.json" "$dir/"
  (cd "$dir" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
  write_stamp "$dir/.stamp" "$pkg"
}

install_cargo_deny() { # built once from crates.io into .tools/cargo-deny
  local version=0.20.2 dir="$tools/cargo-deny"
  [ -x "$dir/bin/cargo-deny" ] && "$dir/bin/cargo-deny" --version 2>/dev/null | grep -q " $version" && return 0
  echo "tools: building cargo-deny $version into .tools/cargo-deny" >&2
  cargo install cargo-deny --locked --version "$version" --root "$dir" --quiet
}

install_debian() { # install_debian <command> <package>
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "tools: installing Debian package $2 (apt-get)" >&2
  local sudo=
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$2" >/dev/null
}

case "${1:-all}" in
  aws) install_venv venv-aws "$root/infra/local/requirements-aws.txt"; install_node ;;
  sam) install_venv venv-sam "$root/infra/local/requirements-sam.txt" ;;
  api) install_venv venv-api "$root/infra/local/requirements-api.txt" ;;
  all)
    install_venv venv-aws "$root/infra/local/requirements-aws.txt"
    install_venv venv-sam "$root/infra/local/requirements-sam.txt"
    install_venv venv-api "$root/infra/local/requirements-api.txt"
    install_node
    install_cargo_deny
    install_debian faketime faketime
    ;;
  *) echo "usage: $0 [aws|sam|api|all]" >&2; exit 2 ;;
esac
