#!/usr/bin/env python3
"""Lists the command-line arguments a serving engine defines, from its released source.

Usage (DIR is an unpacked source distribution, e.g. `pip download vllm==0.33.0 --no-deps
--no-binary :all:` then `tar xzf`; the repositories are too large to mirror here):
    tools/engine_args.py vllm VLLM_DIR > crates/tessera-plan/data/args/vllm.txt
    tools/engine_args.py vllm-ascend VLLM_DIR VLLM_ASCEND_DIR \
        > crates/tessera-plan/data/args/vllm-ascend.txt

Walks the files with `ast` (no import, no torch) and prints, after a header naming the
releases and the files read:
  * one `--flag` per line: every string `--name` passed to an `add_argument` call in
    vllm/engine/arg_utils.py (the engine's arguments) and vllm/entrypoints/common/cli_args.py
    (`vllm serve`'s own, such as --headless), plus the fields of the frontend dataclasses
    there, which vLLM turns into `--field-name` (a bool field also into `--no-field-name`);
  * `value --flag VALUE` lines for the enumerated arguments tessera sets: --kv-cache-dtype
    (the CacheDType literal), --distributed-executor-backend (DistributedExecutorBackend)
    and --quantization (QuantizationMethods; for vllm-ascend also the methods its
    `register_quantization_config` calls add, such as "ascend").
vllm-ascend is a platform plugin: it runs vLLM's own CLI, so its list is vLLM's with the
plugin's quantization methods added.

Standard library only; nothing runs this at build or test time. Tests check that every
argument and value tessera emits for a serving replica is in these lists.
"""

import ast
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from framework_args import literal_flags  # noqa: E402  (the same `add_argument` walk)

ARG_FILES = ["vllm/engine/arg_utils.py", "vllm/entrypoints/common/cli_args.py"]
FRONTEND_CLASSES = {"BaseFrontendArgs", "FrontendArgs"}
LITERALS = {
    "--kv-cache-dtype": ("vllm/config/cache.py", "CacheDType"),
    "--distributed-executor-backend": ("vllm/config/parallel.py", "DistributedExecutorBackend"),
    "--quantization": ("vllm/model_executor/layers/quantization/__init__.py", "QuantizationMethods"),
}


def parse(root, rel):
    with open(os.path.join(root, rel), encoding="utf-8") as f:
        return ast.parse(f.read(), rel)


def version(root):
    """The release's version from PKG-INFO (an sdist has one)."""
    try:
        with open(os.path.join(root, "PKG-INFO"), encoding="utf-8") as f:
            for line in f:
                if line.startswith("Version:"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def is_bool(annotation):
    return any(isinstance(n, ast.Name) and n.id == "bool" for n in ast.walk(annotation))


def frontend_flags(tree):
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name in FRONTEND_CLASSES:
            for st in node.body:
                if isinstance(st, ast.AnnAssign) and isinstance(st.target, ast.Name):
                    name = st.target.id
                    if name.startswith("_"):
                        continue
                    flag = "--" + name.replace("_", "-")
                    out.append(flag)
                    if is_bool(st.annotation):
                        out.append("--no-" + name.replace("_", "-"))
    return out


def literal_values(tree, alias):
    for node in tree.body:
        target = None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        if isinstance(target, ast.Name) and target.id == alias and isinstance(value, ast.Subscript):
            s = value.slice
            elts = s.elts if isinstance(s, ast.Tuple) else [s]
            return [e.value for e in elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    raise SystemExit(f"{alias}: no Literal[...] assignment found")


def plugin_quantization(root):
    """Methods a plugin registers with `register_quantization_config(NAME)`: NAME a string or
    a module-level string constant defined anywhere in the package."""
    consts, calls, files = {}, [], []
    for dirpath, _, names in os.walk(os.path.join(root, "vllm_ascend")):
        for n in sorted(names):
            if not n.endswith(".py"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, n), root)
            tree = parse(root, rel)
            for node in tree.body:
                if (isinstance(node, ast.Assign) and len(node.targets) == 1
                        and isinstance(node.targets[0], ast.Name)
                        and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
                    consts.setdefault(node.targets[0].id, node.value.value)
            for node in ast.walk(tree):
                if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "register_quantization_config"
                        and node.args):
                    calls.append(node.args[0])
                    files.append(rel)
    out = []
    for a in calls:
        if isinstance(a, ast.Constant) and isinstance(a.value, str):
            out.append(a.value)
        elif isinstance(a, ast.Name) and a.id in consts:
            out.append(consts[a.id])
    return sorted(set(out)), sorted(set(files))


def sha(root):
    """A digest over the files read, so a regenerated list says whether its input changed."""
    h = hashlib.sha256()
    for rel in ARG_FILES + [f for f, _ in LITERALS.values()]:
        with open(os.path.join(root, rel), "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


def main(argv):
    if len(argv) < 3 or argv[1] not in ("vllm", "vllm-ascend") or (argv[1] == "vllm-ascend") != (len(argv) == 4):
        raise SystemExit(__doc__)
    engine, vllm = argv[1], argv[2]
    flags = []
    for rel in ARG_FILES:
        tree = parse(vllm, rel)
        flags += literal_flags(tree)
        flags += frontend_flags(tree)
    values = {flag: literal_values(parse(vllm, rel), alias) for flag, (rel, alias) in LITERALS.items()}
    print(f"# Command-line arguments {engine} accepts, extracted by tools/engine_args.py.")
    print(f"# source: vllm {version(vllm)} source distribution (PyPI); digest of the files read {sha(vllm)}")
    files = ARG_FILES + [f for f, _ in LITERALS.values()]
    if engine == "vllm-ascend":
        ascend = argv[3]
        extra, qfiles = plugin_quantization(ascend)
        values["--quantization"] = sorted(set(values["--quantization"]) | set(extra))
        print(f"# source: vllm-ascend {version(ascend)} source distribution (PyPI), a platform plugin running vLLM's CLI;"
              f" quantization methods it registers: {', '.join(extra)}")
        files += qfiles
    print(f"# files: {', '.join(files)}")
    for f in sorted(set(flags)):
        print(f)
    for flag in sorted(values):
        for v in values[flag]:
            print(f"value {flag} {v}")


if __name__ == "__main__":
    main(sys.argv)
