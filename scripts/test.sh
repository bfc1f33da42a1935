#!/usr/bin/env bash
# Install everything and run every test (the README's test command; .ci/run calls it).
# Needs: python3 >= 3.11 with venv. Starts the local PostgreSQL if it is installed but down,
# installs it from Debian's packages if it is missing (root), installs dovecot-imapd the same way,
# and makes the PostgreSQL and IMAP tests mandatory: they fail rather than skip when a server is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '== %s\n' "$*"; }

# --- PostgreSQL (127.0.0.1:5432, user postgres, trust auth, database test)
pg_up() { command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; }
if ! pg_up; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing PostgreSQL from Debian's packages"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  if ls /etc/postgresql/*/main >/dev/null 2>&1; then
    log "starting PostgreSQL"
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  fi
fi
if pg_up; then
  # trust auth for postgres on loopback is the machine's default; make sure the test database exists
  if ! psql -h 127.0.0.1 -U postgres -d test -Atc 'select 1' >/dev/null 2>&1; then
    su postgres -c "createdb test" 2>/dev/null || createdb -h 127.0.0.1 -U postgres test || true
  fi
else
  log "PostgreSQL is not reachable on 127.0.0.1:5432: the PostgreSQL tests will fail"
fi

# --- dovecot, the real IMAP server the poller tests run against (started by the tests themselves)
if ! command -v dovecot >/dev/null && [ ! -x /usr/sbin/dovecot ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing dovecot-imapd from Debian's packages"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd openssl >/dev/null
  else
    log "dovecot is missing and cannot be installed here: the IMAP tests will fail"
  fi
fi

if ! command -v openssl >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null  # IMAPS test cert
fi

# --- chromium, the headless browser that loads the requesters' status page in its test (skipped without it)
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  log "installing chromium from Debian's packages"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || \
    log "chromium could not be installed: the browser test will skip"
fi

# --- Python environment
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  python3 -m venv .venv
fi
log "installing mailgate with its test dependencies"
if ! .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]' >.venv/pip.log 2>&1; then
  cat .venv/pip.log
  exit 1
fi

# --- Tests
log "running the tests"
export MAILGATE_REQUIRE_PG=1 MAILGATE_REQUIRE_DOVECOT=1
# one pytest worker per core (pytest-xdist), at most 4: MAILGATE_TEST_WORKERS=0 runs them in this process
workers=${MAILGATE_TEST_WORKERS:-$(( $(nproc) < 4 ? $(nproc) : 4 ))}
exec .venv/bin/python -m pytest -n "$workers" "$@"
