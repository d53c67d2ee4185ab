#!/usr/bin/env bash
# The README's test command: starts the services the live tests need, runs every test
# of the workspace, and stops what it started.
#
# As root on Debian 12 it installs and starts a single-host Slurm with fake Ascend,
# Nvidia and Kunlun nodes (tools/slurm-local). Elsewhere, or with TESSERA_SERVICES=0,
# it starts nothing and the live tests say they skipped (under CI=true they fail).
# Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

started=()
cleanup() {
    for s in "${started[@]}"; do
        case $s in
        slurm) bash tools/slurm-local/stop.sh --purge >/dev/null 2>&1 || true ;;
        esac
    done
}
trap cleanup EXIT

if [ "${TESSERA_SERVICES:-1}" = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export SLURM_LOCAL_DIR="${SLURM_LOCAL_DIR:-/tmp/tessera-test-slurm}"
    if [ -f "$SLURM_LOCAL_DIR/run/slurmctld.pid" ] && kill -0 "$(cat "$SLURM_LOCAL_DIR/run/slurmctld.pid")" 2>/dev/null; then
        echo "== Slurm already running in $SLURM_LOCAL_DIR; using it"
    else
        echo "== starting Slurm (tools/slurm-local)"
        SLURM_LOCAL_REST=0 bash tools/slurm-local/start.sh
        started+=(slurm)
    fi
    # shellcheck disable=SC1091
    source "$SLURM_LOCAL_DIR/env.sh"
else
    echo "== no services started (needs root on Debian; TESSERA_SERVICES=${TESSERA_SERVICES:-1}): live tests will skip"
fi

cargo test --workspace "$@"
