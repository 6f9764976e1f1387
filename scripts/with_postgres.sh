#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL 15 cluster on a free port, then removes the cluster.
# initdb and pg_ctl refuse to run as root, so the cluster belongs to the postgres user.
set -euo pipefail
PGBIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

DATA_DIR=$(mktemp -d /tmp/sight-pg.XXXXXX)
chmod 755 "$DATA_DIR"
[ "$(id -u)" = 0 ] && chown postgres "$DATA_DIR"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cleanup() {
    as_postgres "$PGBIN/pg_ctl" -D "$DATA_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$DATA_DIR"
}
trap cleanup EXIT

as_postgres "$PGBIN/initdb" -D "$DATA_DIR/data" -U sight --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
as_postgres "$PGBIN/pg_ctl" -D "$DATA_DIR/data" -l "$DATA_DIR/server.log" -w \
    -o "-p $PORT -k $DATA_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
as_postgres "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U sight sight_test

echo "PostgreSQL 15 on 127.0.0.1:$PORT"
TEST_DATABASE_URL="postgresql+psycopg://sight@127.0.0.1:$PORT/sight_test" "$@"
