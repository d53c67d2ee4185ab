#!/usr/bin/env bash
# start.sh - a single-node Ray head on 127.0.0.1 for tessera's live Ray tests.
#
# Installs ray[default] (pinned) into a venv, then starts a head whose accelerators are
# declared by hand (this machine has none): 8 `GPU` (Ray's Nvidia manager, which sets
# CUDA_VISIBLE_DEVICES), 8 `NPU` (Ray's Ascend manager, ASCEND_RT_VISIBLE_DEVICES) and
# 8 `P800`, a custom resource for Kunlun, which Ray has no manager for. Writes
# $RAY_LOCAL_DIR/env.sh (TESSERA_RAY_URL, and TESSERA_RAY_VENV for the `ray` CLI) and $RAY_LOCAL_DIR/sid (the head's session, for
# stop.sh). Exit 3: Ray could not be installed (no python3 venv or no PyPI).
#
# Recipe after ../shared/engines/README.md, section 2 (Ray 2.60 on a CI-sized box):
# RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 keeps every listener on 127.0.0.1; the worker
# ports are moved to 20000-20999, out of the Slurm ports tools/slurm-local uses
# (16817, 16820, 16900+); about 15-20 s to start and 650 MiB.
set -euo pipefail
DIR=${RAY_LOCAL_DIR:-/tmp/tessera-ray}
VENV=${RAY_VENV:-$DIR/venv}
VERSION=${RAY_VERSION:-2.60.0}
DASH_PORT=${RAY_LOCAL_DASHBOARD_PORT:-8265}
GCS_PORT=${RAY_LOCAL_PORT:-6379}
mkdir -p "$DIR"

if [ ! -x "$VENV/bin/ray" ] || ! "$VENV/bin/ray" --version 2>/dev/null | grep -q "$VERSION"; then
    echo "ray-local: installing ray[default]==$VERSION into $VENV"
    if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
        # Debian's python3 lacks venv until python3-venv is installed.
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null || exit 3
            rm -rf "$VENV"
            python3 -m venv "$VENV" >/dev/null 2>&1 || exit 3
        else
            exit 3
        fi
    fi
    "$VENV/bin/pip" install -q "ray[default]==$VERSION" >"$DIR/pip.log" 2>&1 || {
        tail -5 "$DIR/pip.log" >&2
        exit 3
    }
fi

url="http://127.0.0.1:$DASH_PORT"
# get URL [NEEDLE]: the body answers (and holds NEEDLE); python3, which pip needed anyway.
get() {
    python3 - "$1" "${2:-}" <<'PY' >/dev/null 2>&1
import sys, urllib.request
body = urllib.request.urlopen(sys.argv[1], timeout=5).read().decode()
sys.exit(0 if sys.argv[2] in body else 1)
PY
}
if get "$url/api/version"; then
    echo "ray-local: something already answers on $url; refusing to start a second head" >&2
    exit 1
fi

rm -rf "$DIR/tmp"
# A new session whose id is the pid written to sid: stop.sh ends every process in it.
RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 RAY_USAGE_STATS_ENABLED=0 \
    setsid bash -c 'echo $$ > "$0/sid"; exec "$1/bin/ray" start --head \
      --node-ip-address=127.0.0.1 --port="$2" \
      --dashboard-host=127.0.0.1 --dashboard-port="$3" \
      --num-cpus=4 --num-gpus=8 --resources="{\"NPU\": 8, \"P800\": 8}" \
      --min-worker-port=20000 --max-worker-port=20999 \
      --object-store-memory=200000000 \
      --temp-dir="$0/tmp" --disable-usage-stats' \
    "$DIR" "$VENV" "$GCS_PORT" "$DASH_PORT" </dev/null >"$DIR/start.log" 2>&1 || {
    tail -20 "$DIR/start.log" >&2
    exit 1
}
for _ in $(seq 1 60); do
    if get "$url/api/version" && get "$url/api/v0/nodes?detail=1" '"P800"'; then
        printf 'export TESSERA_RAY_URL=%s\nexport TESSERA_RAY_VENV=%s\n' "$url" "$VENV" >"$DIR/env.sh"
        echo "ray-local: head up at $url (GPU 8, NPU 8, P800 8)"
        exit 0
    fi
    sleep 1
done
echo "ray-local: the head did not answer on $url within 60 s" >&2
tail -20 "$DIR/start.log" >&2
exit 1
