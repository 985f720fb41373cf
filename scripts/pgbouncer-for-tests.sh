#!/usr/bin/env bash
# A pgbouncer in transaction pooling mode in front of the local PostgreSQL, for the suite's third pass (R7):
#   scripts/pgbouncer-for-tests.sh start|stop [DIR]
# Listens on 127.0.0.1:6432 (PREFS_PGBOUNCER_PORT) and lends server connections of 127.0.0.1:5432
# (PREFS_PGBOUNCER_SERVER_PORT) as user postgres (trust auth, as on these machines). Debian's pgbouncer refuses
# to run as root, so it runs as postgres when started as root. The outage settings are the README's: a client
# waits for a server connection at most query_wait_timeout, and a server that refused a login is tried again a
# second later (pgbouncer's defaults, 120 s and 15 s, outlast gunicorn's 30 s worker timeout).
set -euo pipefail
action="${1:?start or stop}"
dir="${2:-${TMPDIR:-/tmp}/prefs-pgbouncer}"
port="${PREFS_PGBOUNCER_PORT:-6432}"
server_port="${PREFS_PGBOUNCER_SERVER_PORT:-5432}"
mkdir -p "$dir"
case "$action" in
start)
  cat > "$dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$server_port user=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = any
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 60
; libpq's "options" (prefs sends statement_timeout there when not behind a pooler) is not a pgbouncer parameter
ignore_startup_parameters = options,extra_float_digits
server_reset_query =
query_wait_timeout = 5
server_connect_timeout = 5
server_login_retry = 1
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres "$dir"
    pgbouncer -d -u postgres "$dir/pgbouncer.ini"
  else
    pgbouncer -d "$dir/pgbouncer.ini"
  fi
  for _ in $(seq 1 50); do
    pg_isready -q -h 127.0.0.1 -p "$port" && exit 0
    sleep 0.1
  done
  echo "pgbouncer did not start; its log: $dir/pgbouncer.log" >&2
  exit 1
  ;;
stop)
  if [ -f "$dir/pgbouncer.pid" ]; then kill "$(cat "$dir/pgbouncer.pid")" 2>/dev/null || true; fi
  ;;
*)
  echo "usage: $0 start|stop [DIR]" >&2
  exit 2
  ;;
esac
