#!/usr/bin/env bash
# stop.sh - stops the Ray head start.sh started (TERM to its session, then KILL after
# 20 s: the GCS may ignore TERM for 15 s); --purge also deletes its directory but the
# venv. Reads /proc, so it needs no procps.
set -uo pipefail
DIR=${RAY_LOCAL_DIR:-/tmp/tessera-ray}

# The pids whose session is $1 (field 6 of /proc/PID/stat, after the command name).
session_pids() {
    local f line rest
    for f in /proc/[0-9]*/stat; do
        read -r line <"$f" 2>/dev/null || continue
        rest=${line##*) }
        # shellcheck disable=SC2086
        set -- $rest
        [ "${4:-}" = "$SID" ] && { f=${f#/proc/}; echo "${f%/stat}"; }
    done
}

if [ -f "$DIR/sid" ]; then
    SID=$(cat "$DIR/sid")
    if [ -n "$SID" ]; then
        # shellcheck disable=SC2046
        kill -TERM $(session_pids) 2>/dev/null
        for _ in $(seq 1 20); do
            [ -z "$(session_pids)" ] && break
            sleep 1
        done
        # shellcheck disable=SC2046
        kill -KILL $(session_pids) 2>/dev/null
    fi
    rm -f "$DIR/sid" "$DIR/env.sh"
fi
if [ "${1:-}" = --purge ]; then
    rm -rf "$DIR/tmp" "$DIR/start.log" "$DIR/pip.log"
fi
exit 0
