#!/usr/bin/env bash
# Starts and stops a local PostgreSQL 18 with pgvector (from scripts/fetch-postgres.sh) for
# benchmarks and demos. PostgreSQL refuses to run as root, so as root the server runs as the
# unprivileged system user `bellhop-postgres`. It listens on 127.0.0.1 only, trusts local
# connections as user `postgres`, and has the `vector` extension in database `bellhop`.
#
#   scripts/postgres.sh start DIR PORT   # initdb DIR if empty, start, wait until ready
#   scripts/postgres.sh stop DIR         # fast shutdown
#   scripts/postgres.sh crash DIR        # immediate shutdown, as a crash: recovery on next start
#   scripts/postgres.sh url PORT         # the connection URL
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
user=bellhop-postgres

as_owner() {
  if [ "$(id -u)" = 0 ]; then
    setpriv --reuid="$user" --regid="$user" --clear-groups -- "$@"
  else
    "$@"
  fi
}

command="${1:?usage: postgres.sh start DIR PORT | stop DIR | crash DIR | url PORT}"
case "$command" in
  start)
    dir="$(realpath -m "${2:?data directory}")"
    port="${3:?port}"
    bin="$(bash "$root/scripts/fetch-postgres.sh")"
    if [ "$(id -u)" = 0 ] && ! id "$user" >/dev/null 2>&1; then
      useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
    fi
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown "$user:$user" "$dir"
    if [ ! -f "$dir/PG_VERSION" ]; then
      as_owner "$bin/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 >/dev/null
    fi
    as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c max_connections=400" start >/dev/null
    "$bin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = 'bellhop'" | grep -q 1 \
      || "$bin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE bellhop"
    "$bin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d bellhop -c "CREATE EXTENSION IF NOT EXISTS vector"
    echo "postgres://postgres@127.0.0.1:$port/bellhop"
    ;;
  stop)
    dir="$(realpath -m "${2:?data directory}")"
    bin="$(bash "$root/scripts/fetch-postgres.sh")"
    as_owner "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null
    ;;
  crash)
    dir="$(realpath -m "${2:?data directory}")"
    bin="$(bash "$root/scripts/fetch-postgres.sh")"
    as_owner "$bin/pg_ctl" -D "$dir" -m immediate -w stop >/dev/null
    ;;
  url)
    echo "postgres://postgres@127.0.0.1:${2:?port}/bellhop"
    ;;
  *)
    echo "unknown command $command" >&2
    exit 2
    ;;
esac
