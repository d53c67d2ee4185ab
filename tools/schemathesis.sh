#!/usr/bin/env bash
# Fuzzes tessera server's HTTP API from its own OpenAPI document with schemathesis
# (PyPI): no request may get a 5xx answer or crash the server. The server's engine is
# unreachable on purpose (its Slurm tools directory is empty), so the fuzzer's random
# job scripts are stored and scheduled but never run. Used by tools/test.sh.
#   tools/schemathesis.sh [SECONDS]     (time budget, default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
budget=${1:-60}
venv=${SCHEMATHESIS_VENV:-target/schemathesis-venv}
if [ ! -x "$venv/bin/st" ]; then
    # Exit 3: schemathesis could not be installed (no python3 venv, no PyPI).
    if ! python3 -m venv "$venv" 2>/dev/null; then
        # Debian's python3 lacks venv until python3-venv is installed.
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null || exit 3
            rm -rf "$venv"
            python3 -m venv "$venv" || exit 3
        else
            exit 3
        fi
    fi
    "$venv/bin/pip" install -q 'schemathesis>=4,<5' || exit 3
fi
bin=${TESSERA_BIN:-target/debug/tessera}
[ -x "$bin" ] || cargo build -q -p tessera-cli
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$dir/no-slurm"
cat > "$dir/tessera.toml" <<TOML
listen = "127.0.0.1:$port"
tokens = "tokens.toml"
round-s = 5
max-body-bytes = 65536
[[engine]]
name = "slurm"
kind = "slurm"
bin = "no-slurm"
[[pool]]
name = "a800"
chip = "a800"
engine = "slurm"
partition = "nvidia"
gres = "gpu:a800"
TOML
printf '[[token]]\nteam = "fuzz"\ntoken = "fuzz-team-token-000000001"\n' > "$dir/tokens.toml"
"$bin" server --config "$dir/tessera.toml" 2> "$dir/server.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
python3 - "$port" <<'PY'
import sys, time, urllib.request
for _ in range(200):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz", timeout=1)
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit("the server did not come up")
PY
"$venv/bin/st" run "http://127.0.0.1:$port/api/v1/openapi.json" \
    --checks not_a_server_error \
    -H "Authorization: Bearer fuzz-team-token-000000001" \
    --exclude-path /api/v1/events/stream \
    --max-time "$budget" --request-timeout 10 --seed 1
kill -0 $pid || { echo "the server died under fuzzing:"; cat "$dir/server.log"; exit 1; }
