#!/usr/bin/env bash
# bellhop replicas on one PostgreSQL behind nginx, all on this machine: starts PostgreSQL 18 +
# pgvector (scripts/postgres.sh), migrates the schema, copies collections in when asked, starts
# the replicas with `bellhop serve --database-url`, and nginx with deploy/nginx/bellhop.conf in
# front of them (its own prefix, pid, logs and temporary files under a temporary directory,
# so no system configuration changes). Waits until every replica and the balancer answer
# /ready, prints the balancer's URL, and stops everything on Ctrl-C, SIGTERM or when nginx
# exits. Replicas that exit are left out by nginx; the rest keep answering.
#
#   deploy/replicas.sh                                   # empty database on 8080 (replicas 8081, 8082)
#   deploy/replicas.sh --from target/seed-table-data --collection eval-msmarco-5k --index hnsw
#   deploy/replicas.sh --replicas 3 --port 9000 -- --no-cache   # after --: flags for every `bellhop serve`
#
# Options:
#   --from DIR          copy collections from this embedded store (`bellhop copy`); collections
#                       already in the database are not copied again
#   --collection NAME   copy only NAME (repeatable) [default: all of DIR's]
#   --index KIND        the copies' vector index: auto, exact or hnsw [default: as in DIR]
#   --port PORT         nginx's port on 127.0.0.1; replicas take the next ports [8080]
#   --replicas N        how many replicas [2]
#   --pg-port PORT      PostgreSQL's port [55432]
#   --pg-dir DIR        PostgreSQL's data directory, kept at exit [default: temporary, removed]
#   --keep              keep the temporary directory (logs, nginx config) at exit
# Needs target/release/bellhop (or BELLHOP_BIN), nginx (Debian: apt-get install nginx), curl.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bin="${BELLHOP_BIN:-$root/target/release/bellhop}"
port=8080
replicas=2
pg_port=55432
pg_dir=""
from=""
index=""
keep=false
collections=()
serve_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --from) from="${2:?--from needs a directory}"; shift 2 ;;
    --collection) collections+=("${2:?--collection needs a name}"); shift 2 ;;
    --index) index="${2:?--index needs auto, exact or hnsw}"; shift 2 ;;
    --port) port="${2:?}"; shift 2 ;;
    --replicas) replicas="${2:?}"; shift 2 ;;
    --pg-port) pg_port="${2:?}"; shift 2 ;;
    --pg-dir) pg_dir="${2:?}"; shift 2 ;;
    --keep) keep=true; shift ;;
    --) shift; serve_args=("$@"); break ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (--help lists them)" >&2; exit 2 ;;
  esac
done

say() { echo "replicas: $*" >&2; }
[ -x "$bin" ] || { say "$bin is missing: cargo build --release -p bellhop-cli"; exit 1; }
command -v nginx >/dev/null || { say "nginx is missing (apt-get install nginx)"; exit 1; }
command -v curl >/dev/null || { say "curl is missing"; exit 1; }
[ "$replicas" -ge 1 ] 2>/dev/null || { say "--replicas must be 1 or more"; exit 2; }
[ -z "$from" ] || [ -f "$from/bellhop.sqlite3" ] || { say "$from is not a bellhop data directory"; exit 1; }
[ ${#collections[@]} -eq 0 ] || [ -n "$from" ] || { say "--collection needs --from"; exit 2; }
[ -z "$index" ] || [ -n "$from" ] || { say "--index needs --from"; exit 2; }

replica_ports=()
for i in $(seq 1 "$replicas"); do replica_ports+=($((port + i))); done
for p in "$port" "${replica_ports[@]}" "$pg_port"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    say "port $p is taken; choose others with --port / --pg-port"
    exit 1
  fi
done

work="$(mktemp -d /tmp/bellhop-replicas.XXXXXX)"
chmod 755 "$work"   # PostgreSQL and nginx's workers run as unprivileged users under root
[ -n "$pg_dir" ] || pg_dir="$work/pg"
pg_started=false
nginx_pid=""
replica_pids=()

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  say "stopping"
  [ -z "$nginx_pid" ] || kill -QUIT "$nginx_pid" 2>/dev/null || true
  for pid in "${replica_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  [ -z "$nginx_pid" ] || wait "$nginx_pid" 2>/dev/null || true
  for pid in "${replica_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if $pg_started; then bash "$root/scripts/postgres.sh" stop "$pg_dir" || true; fi
  if $keep || { [ "$status" -ne 0 ] && [ "$status" -lt 128 ]; }; then
    say "logs and config kept in $work"
  else
    rm -rf "$work"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Waits until URL answers 200, or fails when PID (if given) has exited or SECONDS pass.
wait_ready() {
  local url="$1" pid="$2" log="$3" limit="$4" started=$SECONDS
  until curl -fs -o /dev/null --max-time 2 "$url"; do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      say "the process behind $url exited; the end of $log:"
      tail -n 20 "$log" >&2
      return 1
    fi
    if [ $((SECONDS - started)) -ge "$limit" ]; then
      say "$url not ready after $limit s; the end of $log:"
      tail -n 20 "$log" >&2
      return 1
    fi
    sleep 0.5
  done
}

say "PostgreSQL on 127.0.0.1:$pg_port (data in $pg_dir)"
pg_started=true
url="$(bash "$root/scripts/postgres.sh" start "$pg_dir" "$pg_port" | tail -n 1)"
psql="$(bash "$root/scripts/fetch-postgres.sh")/psql"
"$bin" migrate --database-url "$url" >&2

if [ -n "$from" ]; then
  present="$("$psql" -h 127.0.0.1 -p "$pg_port" -U postgres -d bellhop -tAc \
    "SELECT name FROM bellhop_collections ORDER BY name")"
  copy=()
  if [ ${#collections[@]} -eq 0 ] && [ -n "$present" ]; then
    say "the database already has collections; nothing copied"
  elif [ ${#collections[@]} -eq 0 ]; then
    copy=(--from "$from")
  else
    for name in "${collections[@]}"; do
      if grep -qxF -- "$name" <<<"$present"; then
        say "$name is already in the database; not copied"
      else
        copy+=(--collection "$name")
      fi
    done
    [ ${#copy[@]} -eq 0 ] || copy=(--from "$from" "${copy[@]}")
  fi
  if [ ${#copy[@]} -gt 0 ]; then
    say "copying from $from"
    [ -z "$index" ] || copy+=(--index "$index")
    "$bin" copy "${copy[@]}" --to "$url" >&2
  fi
fi

for i in "${!replica_ports[@]}"; do
  p="${replica_ports[$i]}"
  log="$work/replica-$((i + 1)).log"
  "$bin" serve --database-url "$url" --addr "127.0.0.1:$p" "${serve_args[@]}" >"$log" 2>&1 &
  replica_pids+=($!)
  say "replica $((i + 1)) on 127.0.0.1:$p (pid $!, log $log)"
done
for i in "${!replica_ports[@]}"; do
  wait_ready "http://127.0.0.1:${replica_ports[$i]}/ready" "${replica_pids[$i]}" "$work/replica-$((i + 1)).log" 300
done

# The committed config with this run's addresses: listen, access log, one server line a replica.
mkdir -p "$work/nginx/tmp"
chmod 755 "$work/nginx"
servers=""
for p in "${replica_ports[@]}"; do
  servers+="    server 127.0.0.1:$p max_fails=3 fail_timeout=10s;\n"
done
awk -v port="$port" -v access="$work/nginx/access.log" -v servers="$servers" '
  /^ *server 127\.0\.0\.1:8081 / { printf "%s", servers; next }
  /^ *server 127\.0\.0\.1:8082 / { next }
  /^ *listen 127\.0\.0\.1:8080;/ { sub(/8080/, port) }
  /^ *access_log \/var\/log\/nginx\/bellhop\.access\.log / { sub(/\/var\/log\/nginx\/bellhop\.access\.log/, access) }
  { print }
' "$root/deploy/nginx/bellhop.conf" >"$work/nginx/bellhop.conf"
cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log notice;
events { worker_connections 1024; }
http {
    client_body_temp_path $work/nginx/tmp/body;
    proxy_temp_path $work/nginx/tmp/proxy;
    fastcgi_temp_path $work/nginx/tmp/fastcgi;
    uwsgi_temp_path $work/nginx/tmp/uwsgi;
    scgi_temp_path $work/nginx/tmp/scgi;
    include $work/nginx/bellhop.conf;
}
EOF
nginx_args=(-p "$work/nginx/" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log")
nginx -t -q "${nginx_args[@]}" || { cat "$work/nginx/error.log" >&2; exit 1; }
nginx "${nginx_args[@]}" &
nginx_pid=$!
wait_ready "http://127.0.0.1:$port/ready" "$nginx_pid" "$work/nginx/error.log" 30

say "database $url"
for p in "${replica_ports[@]}"; do say "replica http://127.0.0.1:$p (its own /metrics and /ready)"; done
say "logs in $work; Ctrl-C stops everything"
echo "http://127.0.0.1:$port"
wait "$nginx_pid"
