#!/usr/bin/env bash
# A throw-away PostgreSQL server for edgekit's tests (Debian's `postgresql` package).
#
#   scripts/postgres.sh install            install Debian's postgresql when missing (root or sudo);
#                                          without either, say what is missing and exit 0
#   scripts/postgres.sh start [DIR] [--owner PID]
#                                          a new cluster in DIR (default: a new /tmp/edgekit-pg.XXXXXX),
#                                          trust auth on loopback, a free 127.0.0.1 port and a socket in
#                                          DIR/sock, database edgekit_test; prints shell lines to eval:
#                                            export EDGEKIT_TEST_PG_URL=postgresql://postgres@127.0.0.1:PORT/edgekit_test
#                                            export EDGEKIT_TEST_PG_DIR=DIR
#                                          with --owner PID, a watchdog stops the server and removes DIR
#                                          once process PID has exited (even when it was SIGKILLed)
#   scripts/postgres.sh stop DIR           stop the server of DIR and remove DIR
#
# The server runs as the `postgres` user when started by root (initdb refuses root), else as
# the caller. Roles in the group `edgekit_password` must log in with their password (scram),
# so that tests can check a password-protected URL; every other role is trusted on loopback.
# Nothing but the eval-able lines goes to stdout; progress and errors go to stderr.
set -euo pipefail

SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
say() { echo "postgres.sh: $*" >&2; }

bindir() {  # the newest /usr/lib/postgresql/N/bin with initdb, or nothing
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
  return 0
}

install() {
  [ -n "$(bindir)" ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; else
      say "missing: Debian package postgresql (run: apt-get install postgresql); the postgres tests will skip"
      return 0
    fi
  fi
  say "installing Debian package: postgresql"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  # the package's own cluster is not ours: leave it stopped
  command -v pg_ctlcluster >/dev/null 2>&1 && { $sudo pg_ctlcluster --force "$(basename "$(dirname "$(bindir)")")" main stop 2>/dev/null || true; }
  return 0
}

as_owner() {  # run a command as the server's user
  if [ "$(id -u)" -eq 0 ]; then runuser -u "$PGUSER_OS" -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  local dir="" owner=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --owner) owner="$2"; shift 2 ;;
      *) dir="$1"; shift ;;
    esac
  done
  local bin; bin="$(bindir)"
  if [ -z "$bin" ]; then
    say "PostgreSQL is not installed (scripts/postgres.sh install, as root)"
    exit 1
  fi
  if [ "$(id -u)" -eq 0 ]; then
    PGUSER_OS=postgres
    id postgres >/dev/null 2>&1 || { say "no 'postgres' user to run the server as"; exit 1; }
  else
    PGUSER_OS="$(id -un)"
  fi
  [ -n "$dir" ] || dir="$(mktemp -d /tmp/edgekit-pg.XXXXXX)"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  [ -e "$dir/data/PG_VERSION" ] && { say "$dir already holds a cluster; stop it first"; exit 1; }
  mkdir -p "$dir/sock"
  [ "$(id -u)" -eq 0 ] && chown -R "$PGUSER_OS" "$dir"
  chmod 700 "$dir"
  as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 \
    || { say "initdb failed:"; cat "$dir/initdb.log" >&2; exit 1; }
  local port; port="$(free_port)"
  cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir/sock'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 32MB
EOF
  cat >"$dir/data/pg_hba.conf" <<EOF
local all all trust
host all +edgekit_password 127.0.0.1/32 scram-sha-256
host all all 127.0.0.1/32 trust
EOF
  local tries=0
  until as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -ge 3 ] || ! grep -q "in use" "$dir/server.log" 2>/dev/null; then
      say "the server did not start:"; tail -n 20 "$dir/server.log" >&2; exit 1
    fi
    port="$(free_port)"  # someone took the port meanwhile: another one
    sed -i "s/^port = .*/port = $port/" "$dir/data/postgresql.conf"
  done
  local psql=("$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir/sock" -p "$port" -U postgres)
  as_owner "${psql[@]}" -d postgres -c "CREATE DATABASE edgekit_test" -c "CREATE ROLE edgekit_password NOLOGIN" >/dev/null
  if [ -n "$owner" ]; then  # stop the server once the owner is gone, however it ended
    setsid nohup bash -c "while kill -0 $owner 2>/dev/null; do sleep 1; done; exec bash '$SELF' stop '$dir'" \
      >/dev/null 2>&1 </dev/null &
  fi
  say "server of $dir on 127.0.0.1:$port (stop: scripts/postgres.sh stop $dir)"
  echo "export EDGEKIT_TEST_PG_URL=postgresql://postgres@127.0.0.1:$port/edgekit_test"
  echo "export EDGEKIT_TEST_PG_DIR=$dir"
}

stop() {
  local dir="${1:?usage: postgres.sh stop DIR}"
  local bin; bin="$(bindir)"
  [ -d "$dir" ] || return 0
  if [ -f "$dir/data/postmaster.pid" ] && [ -n "$bin" ]; then
    if [ "$(id -u)" -eq 0 ]; then PGUSER_OS="$(stat -c %U "$dir/data")"; else PGUSER_OS="$(id -un)"; fi
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  install) install ;;
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  *) echo "usage: $0 install | start [DIR] [--owner PID] | stop DIR" >&2; exit 2 ;;
esac
