#!/usr/bin/env bash
# start.sh - a throw-away PostgreSQL on 127.0.0.1 for tessera's store tests.
# Debian 12's postgresql 15, no systemd: initdb and pg_ctl as the postgres user (initdb
# refuses root), as in the project's shared engine notes (shared/engines/README.md).
#   tools/pg-local/start.sh        # as root; installs postgresql if missing
#   source $PG_LOCAL_DIR/env.sh    # TESSERA_TEST_POSTGRES=postgres://...
#   tools/pg-local/stop.sh [--purge]
# Knobs: PG_LOCAL_DIR (default /tmp/tessera-pg), PG_LOCAL_PORT (15432).
set -euo pipefail
DIR=${PG_LOCAL_DIR:-/tmp/tessera-pg}
PORT=${PG_LOCAL_PORT:-15432}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    echo "pg-local: installing postgresql"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
mkdir -p "$DIR"
chown postgres: "$DIR"
if [ ! -f "$DIR/data/PG_VERSION" ]; then
    runuser -u postgres -- "$bindir/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 \
        --locale=C.UTF-8 --no-sync >/dev/null
fi
# fsync=off: test data only; a production server keeps PostgreSQL's durable defaults.
runuser -u postgres -- "$bindir/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -s \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off" start
echo "export TESSERA_TEST_POSTGRES=postgres://postgres@127.0.0.1:$PORT/postgres" > "$DIR/env.sh"
echo "pg-local: PostgreSQL up on 127.0.0.1:$PORT ($DIR)"
