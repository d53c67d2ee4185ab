#!/usr/bin/env bash
# The README's test command: starts the services the live tests need, runs every test
# of the workspace, and stops what it started.
#
# As root on Debian 12 it installs and starts a single-host Slurm with fake Ascend,
# Nvidia and Kunlun nodes (tools/slurm-local), a PostgreSQL (tools/pg-local) and Debian's
# Chromium with chromedriver (the dashboard's browser tests); anywhere
# with python3 and PyPI a Ray head (tools/ray-local); and
# afterwards fuzzes the server's API with schemathesis (tools/schemathesis.sh). Elsewhere, or with TESSERA_SERVICES=0,
# it starts nothing and the live tests say they skipped (under CI=true they fail).
# Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

started=()
cleanup() {
    for s in "${started[@]}"; do
        case $s in
        slurm) bash tools/slurm-local/stop.sh --purge >/dev/null 2>&1 || true ;;
        postgres) bash tools/pg-local/stop.sh --purge >/dev/null 2>&1 || true ;;
        ray) bash tools/ray-local/stop.sh --purge >/dev/null 2>&1 || true ;;
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
        SLURM_LOCAL_REST=1 bash tools/slurm-local/start.sh
        started+=(slurm)
    fi
    # shellcheck disable=SC1091
    source "$SLURM_LOCAL_DIR/env.sh"
    export PG_LOCAL_DIR="${PG_LOCAL_DIR:-/tmp/tessera-test-pg}"
    if [ -f "$PG_LOCAL_DIR/data/postmaster.pid" ]; then
        echo "== PostgreSQL already running in $PG_LOCAL_DIR; using it"
    else
        echo "== starting PostgreSQL (tools/pg-local)"
        bash tools/pg-local/start.sh
        started+=(postgres)
    fi
    # shellcheck disable=SC1091
    source "$PG_LOCAL_DIR/env.sh"
    # A real browser for the dashboard's tests (crates/tessera-cli/tests/dashboard.rs).
    if ! command -v chromedriver >/dev/null 2>&1 || [ ! -x /usr/bin/chromium ]; then
        echo "== installing Chromium and chromedriver (Debian's chromium, chromium-driver)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
    fi
else
    echo "== no services started (needs root on Debian; TESSERA_SERVICES=${TESSERA_SERVICES:-1}): live tests will skip"
fi

# A Ray head for the Ray engine's live tests (no root needed: a venv from PyPI). Under
# CI=true a Ray that cannot be installed fails the run; elsewhere the tests skip.
if [ "${TESSERA_SERVICES:-1}" = 1 ] && [ "${TESSERA_RAY:-1}" = 1 ]; then
    export RAY_LOCAL_DIR="${RAY_LOCAL_DIR:-/tmp/tessera-test-ray}"
    if [ -f "$RAY_LOCAL_DIR/env.sh" ]; then
        echo "== Ray already running in $RAY_LOCAL_DIR; using it"
    else
        echo "== starting a Ray head (tools/ray-local)"
        rc=0
        bash tools/ray-local/start.sh || rc=$?
        if [ "$rc" = 0 ]; then
            started+=(ray)
        elif [ "$rc" = 3 ] && [ "${CI:-}" != true ]; then
            echo "ray-local: Ray could not be installed (python3 -m venv and PyPI needed); its live tests will skip"
        else
            exit "$rc"
        fi
    fi
    if [ -f "$RAY_LOCAL_DIR/env.sh" ]; then
        # shellcheck disable=SC1091
        source "$RAY_LOCAL_DIR/env.sh"
    fi
fi

cargo test --workspace "$@"
if [ -d target/dashboard-screenshots ]; then
    echo "== dashboard screenshots (CI artifacts): target/dashboard-screenshots/"
    ls target/dashboard-screenshots
fi

# The Kubernetes engine (cargo feature `kube`, kube-rs): its conversation with an API
# server, request by request, and the live test, which runs only when KUBECONFIG names a
# cluster (none can be installed here) and otherwise says it skipped.
echo "== the Kubernetes engine (--features kube)"
cargo test -p tessera-engine --features kube --test kube_conversation "$@"

# The API fuzzed from its OpenAPI document (needs python3 and PyPI; under CI=true a
# failure to install fails the run, elsewhere it is skipped with a note).
if [ "${TESSERA_SCHEMATHESIS:-1}" = 1 ]; then
    echo "== schemathesis against tessera server's OpenAPI document"
    rc=0
    bash tools/schemathesis.sh "${TESSERA_SCHEMATHESIS_S:-45}" || rc=$?
    if [ "$rc" = 3 ] && [ "${CI:-}" != true ]; then
        echo "schemathesis: skipped, it could not be installed (python3 -m venv and PyPI needed)"
    elif [ "$rc" != 0 ]; then
        exit "$rc"
    fi
fi

# The emitted Kubernetes manifests against the official and Volcano's schemas (needs
# python3 and PyPI; under CI=true a failure to install fails the run).
if [ "${TESSERA_K8S_VALIDATE:-1}" = 1 ]; then
    echo "== Kubernetes manifests against their schemas (tools/k8s-validate.sh)"
    rc=0
    bash tools/k8s-validate.sh || rc=$?
    if [ "$rc" = 3 ] && [ "${CI:-}" != true ]; then
        echo "k8s-validate: skipped, kubernetes-validate could not be installed (python3 -m venv and PyPI needed)"
    elif [ "$rc" != 0 ]; then
        exit "$rc"
    fi
fi
