#!/usr/bin/env bash
# stop.sh - stops the PostgreSQL that start.sh started; --purge deletes its directory.
set -uo pipefail
DIR=${PG_LOCAL_DIR:-/tmp/tessera-pg}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -f "$DIR/data/postmaster.pid" ]; then
    runuser -u postgres -- "$bindir/pg_ctl" -D "$DIR/data" -m fast -w -s stop
fi
[ "${1:-}" = --purge ] && rm -rf "$DIR"
exit 0
