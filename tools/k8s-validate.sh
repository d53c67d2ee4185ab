#!/usr/bin/env bash
# Validates the Kubernetes manifests `tessera plan train|serve --emit k8s` write: the
# built-in kinds (Service, batch/v1 Job, apps/v1 Deployment) against the official schemas
# with kubernetes-validate (PyPI, pinned; Kubernetes 1.33, strict: unknown fields are
# errors), and Volcano's
# PodGroup against Volcano's own CRD schema (tools/k8s-schemas/volcano/, copied from
# volcano-sh/volcano with its source), strictly too. Two broken manifests must be
# rejected, so that a validator that accepts anything fails this script. Used by
# tools/test.sh. No Kubernetes API server is involved.
set -euo pipefail
cd "$(dirname "$0")/.."
K8S=${TESSERA_K8S_VERSION:-1.33.0}
venv=${K8S_VALIDATE_VENV:-target/k8s-validate-venv}
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
    # Exit 3: it could not be installed (no python3 venv, no PyPI).
    if ! python3 -m venv "$venv" 2>/dev/null; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null || exit 3
            rm -rf "$venv"
            python3 -m venv "$venv" || exit 3
        else
            exit 3
        fi
    fi
    "$venv/bin/pip" install -q 'kubernetes-validate==1.37.0' || exit 3
fi
bin=${TESSERA_BIN:-target/debug/tessera}
[ -x "$bin" ] || cargo build -q -p tessera-cli
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# One plan per vendor: two A800 nodes, one Ascend 910B2 node, one Kunlun P800 node.
for spec in "nvidia-a800-sxm4-80gb 16" "huawei-ascend-910b2 8" "kunlunxin-p800 8"; do
    set -- $spec
    "$bin" plan train --model llama3-8b --chip "$1" --chips "$2" --global-batch 256 \
        --emit k8s "$dir/$1" --queue training --namespace team-a >/dev/null 2>&1
done
# And a serving plan: a Deployment of its replicas behind a Service.
"$bin" plan serve --model llama3-8b --chip huawei-ascend-910b2 --chips 16 --rate 10 \
    --input-len 1000 --output-len 200 --emit k8s "$dir/serve" >/dev/null 2>&1
builtin=$(find "$dir" -name '*.json' ! -name '*-podgroup.json' | sort)
podgroups=$(find "$dir" -name '*-podgroup.json' | sort)
[ -n "$builtin" ] && [ -n "$podgroups" ] || { echo "k8s-validate: no manifests written" >&2; exit 1; }
# shellcheck disable=SC2086
"$venv/bin/kubernetes-validate" -k "$K8S" --strict --quiet $builtin
check_podgroups() {
    "$venv/bin/python" - "$@" <<'PY'
import json, sys, yaml, jsonschema
crd = yaml.safe_load(open("tools/k8s-schemas/volcano/scheduling.volcano.sh_podgroups.yaml"))
schema = next(v for v in crd["spec"]["versions"] if v["name"] == "v1beta1")["schema"]["openAPIV3Schema"]

def unknown(obj, sch, path):
    """Fields the schema does not define (the API server would drop them): errors, as
    kubectl's --validate=strict makes them."""
    out = []
    if isinstance(obj, dict) and "properties" in sch and not sch.get("additionalProperties"):
        for k, v in obj.items():
            if path == "" and k in ("apiVersion", "kind", "metadata"):
                continue
            if k not in sch["properties"]:
                out.append(f"{path}.{k}")
            else:
                out += unknown(v, sch["properties"][k], f"{path}.{k}")
    return out

bad = 0
for f in sys.argv[1:]:
    doc = json.load(open(f))
    errs = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(doc)]
    errs += [f"unknown field {p}" for p in unknown(doc, schema, "")]
    if doc.get("apiVersion") != "scheduling.volcano.sh/v1beta1" or doc.get("kind") != "PodGroup":
        errs.append("not a scheduling.volcano.sh/v1beta1 PodGroup")
    if errs:
        bad += 1
        print(f"{f}: " + "; ".join(errs))
sys.exit(1 if bad else 0)
PY
}
# shellcheck disable=SC2086
check_podgroups $podgroups
# The negative controls: each must be rejected.
first_job=$(find "$dir" -name '*-job.json' | head -n 1)
first_pg=$(echo "$podgroups" | head -n 1)
"$venv/bin/python" -c "
import json,sys
j=json.load(open('$first_job')); j['spec']['completions']='two'; j['spec']['colour']=1
json.dump(j, open('$dir/broken-job.json','w'))
p=json.load(open('$first_pg')); p['spec']['minMember']='x'; p['spec']['colour']=1
json.dump(p, open('$dir/broken-podgroup.json','w'))
"
if "$venv/bin/kubernetes-validate" -k "$K8S" --strict --quiet "$dir/broken-job.json" >/dev/null 2>&1; then
    echo "k8s-validate: a broken Job passed kubernetes-validate" >&2
    exit 1
fi
if check_podgroups "$dir/broken-podgroup.json" >/dev/null; then
    echo "k8s-validate: a broken PodGroup passed the CRD check" >&2
    exit 1
fi
n=$(echo "$builtin $podgroups" | wc -w)
echo "k8s-validate: $n manifests valid (Kubernetes $K8S strict, Volcano PodGroup CRD); both broken controls rejected"
