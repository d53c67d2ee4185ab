#!/usr/bin/env bash
# stop.sh - stops the Ray head start.sh started (TERM to its session, then KILL after
# 20 s: the GCS may ignore TERM for 15 s); --purge also deletes its directory but the
# venv.
set -uo pipefail
DIR=${RAY_LOCAL_DIR:-/tmp/tessera-ray}
if [ -f "$DIR/sid" ]; then
    sid=$(cat "$DIR/sid")
    if [ -n "$sid" ]; then
        pkill -TERM -s "$sid" 2>/dev/null
        for _ in $(seq 1 20); do
            pgrep -s "$sid" >/dev/null 2>&1 || break
            sleep 1
        done
        pkill -KILL -s "$sid" 2>/dev/null
    fi
    rm -f "$DIR/sid" "$DIR/env.sh"
fi
if [ "${1:-}" = --purge ]; then
    rm -rf "$DIR/tmp" "$DIR/start.log" "$DIR/pip.log"
fi
exit 0
