#!/usr/bin/env python3
"""Lists the command-line argument names a training framework defines, from its source.

Usage (a repository is GIT_DIR or GIT_DIR@REF; REF defaults to HEAD):
    tools/framework_args.py megatron-lm MEGATRON > crates/tessera-plan/data/args/megatron-lm.txt
    tools/framework_args.py mindspeed-llm MINDSPEED_LLM MINDSPEED MEGATRON@core_v0.12.1 \
        > crates/tessera-plan/data/args/mindspeed-llm.txt

Reads the repositories' committed files with `git show HEAD:PATH` (a bare clone is
enough), walks them with `ast` (no import, no torch), and prints one argument name per
line after a header naming the repository, the commit and the files read. Only names are
extracted: tessera checks that every argument it emits is one the framework defines.

Megatron-LM defines its arguments two ways in megatron/training/arguments.py: literal
`add_argument('--name', ...)` calls, and `ArgumentGroupFactory(ConfigClass, exclude=[...])`,
which turns each dataclass field into `--field-name` (a bool field that defaults to True
into `--no-field-name` and `--disable-field-name`; `argparse_meta` metadata may rename it;
fields with `init=False` are skipped). Both are followed here. MindSpeed-LLM adds its own
`add_argument` calls (mindspeed_llm/training/arguments.py and its features_manager
package) on top of Megatron-LM's.

Standard library only; nothing runs this at build or test time.
"""

import ast
import subprocess
import sys


def split(repo):
    d, _, ref = repo.partition("@")
    return d, ref or "HEAD"


def git(repo, *args):
    d, _ = split(repo)
    return subprocess.run(["git", "--git-dir", d, *args], check=True,
                          capture_output=True, text=True).stdout


def show(repo, path):
    return git(repo, "show", f"{split(repo)[1]}:{path}")


def ls(repo):
    return git(repo, "ls-tree", "-r", "--name-only", split(repo)[1]).splitlines()


def literal_flags(tree):
    """`--names` passed as string constants to any `add_argument` call."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_argument":
            for a in node.args:
                if isinstance(a, ast.Constant) and isinstance(a.value, str) and a.value.startswith("--"):
                    out.append(a.value)
    return out


def imports(tree):
    """name -> (module, level) for `from module import name` statements."""
    m = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for n in node.names:
                m[n.asname or n.name] = (node.module or "", node.level)
    return m


def resolve(module, is_pkg, target, level):
    """The absolute module a (possibly relative) import names."""
    if level == 0:
        return target
    parts = module.split(".") if is_pkg else module.split(".")[:-1]
    if level > 1:
        parts = parts[: len(parts) - (level - 1)]
    return ".".join(parts + ([target] if target else []))


class Classes:
    """Finds dataclass definitions across a repository's modules."""

    def __init__(self, repo):
        self.repo = repo
        self.files = set(ls(repo))
        self.cache = {}

    def module_tree(self, module):
        """(tree, is_package) of a module, or (None, False)."""
        for path, pkg in ((module.replace(".", "/") + ".py", False),
                          (module.replace(".", "/") + "/__init__.py", True)):
            if path in self.files:
                if path not in self.cache:
                    self.cache[path] = ast.parse(show(self.repo, path))
                return self.cache[path], pkg
        return None, False

    def find(self, name, module, depth=0):
        """The ClassDef of `name` as seen from `module`, and the module it lives in."""
        tree, pkg = self.module_tree(module)
        if tree is None or depth > 8:
            return None, None
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.name == name:
                return node, (tree, module)
        src = imports(tree).get(name)
        if src:
            return self.find(name, resolve(module, pkg, src[0], src[1]), depth + 1)
        return None, None

    def fields(self, name, module):
        """Dataclass fields of `name` in definition order, bases first:
        (field name, default is True, init=False, renamed flags or None)."""
        cls, where = self.find(name, module)
        if cls is None:
            raise SystemExit(f"class {name} not found from {module}")
        tree, mod = where
        out = []
        for b in cls.bases:
            bname = b.id if isinstance(b, ast.Name) else getattr(b, "attr", None)
            if bname and bname not in ("object",):
                try:
                    out.extend(self.fields(bname, mod))
                except SystemExit:
                    pass
        for node in cls.body:
            if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
                continue
            fname = node.target.id
            default_true, init_false, names = False, False, None
            v = node.value
            if isinstance(v, ast.Constant) and v.value is True:
                default_true = True
            if isinstance(v, ast.Call) and getattr(v.func, "id", getattr(v.func, "attr", "")) == "field":
                for kw in v.keywords:
                    if kw.arg == "default" and isinstance(kw.value, ast.Constant) and kw.value.value is True:
                        default_true = True
                    if kw.arg == "init" and isinstance(kw.value, ast.Constant) and kw.value.value is False:
                        init_false = True
                    if kw.arg == "metadata" and isinstance(kw.value, ast.Dict):
                        for k, mv in zip(kw.value.keys, kw.value.values):
                            if isinstance(k, ast.Constant) and k.value == "argparse_meta" and isinstance(mv, ast.Dict):
                                for k2, v2 in zip(mv.keys, mv.values):
                                    if isinstance(k2, ast.Constant) and k2.value == "arg_names" and isinstance(v2, (ast.List, ast.Tuple)):
                                        names = [e.value for e in v2.elts if isinstance(e, ast.Constant)]
            is_bool = isinstance(node.annotation, ast.Name) and node.annotation.id == "bool"
            out = [f for f in out if f[0] != fname]
            out.append((fname, default_true and is_bool, init_false, names))
        return out


def factory_flags(tree, classes, module):
    """Flags generated by `ArgumentGroupFactory(Class, exclude=[...])` calls."""
    imp = imports(tree)
    out = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "ArgumentGroupFactory"):
            continue
        cname = node.args[0].id
        exclude = set()
        for kw in node.keywords:
            if kw.arg == "exclude":
                val = kw.value
                if isinstance(val, ast.Name):
                    # a list assigned to a local name earlier in the function
                    for n2 in ast.walk(tree):
                        if isinstance(n2, ast.Assign) and any(getattr(t, "id", None) == val.id for t in n2.targets) \
                                and isinstance(n2.value, ast.List):
                            exclude |= {e.value for e in n2.value.elts if isinstance(e, ast.Constant)}
                elif isinstance(val, ast.List):
                    exclude |= {e.value for e in val.elts if isinstance(e, ast.Constant)}
        src = imp.get(cname)
        src = resolve(module, False, src[0], src[1]) if src else module
        for fname, default_true, init_false, names in classes.fields(cname, src):
            if fname in exclude or init_false:
                continue
            if names:
                out.extend(names)
            elif default_true:
                out.extend(["--no-" + fname.replace("_", "-"), "--disable-" + fname.replace("_", "-")])
            else:
                out.append("--" + fname.replace("_", "-"))
    return out


def megatron(repo):
    path = "megatron/training/arguments.py"
    if path not in ls(repo):
        path = "megatron/arguments.py"
    tree = ast.parse(show(repo, path))
    flags = literal_flags(tree) + factory_flags(tree, Classes(repo), "megatron.training.arguments")
    return [path], flags


def literal_flags_of(repo, files):
    flags = []
    for p in files:
        try:
            flags += literal_flags(ast.parse(show(repo, p)))
        except SyntaxError:
            pass
    return flags


def mindspeed(llm_repo, core_repo, megatron_repo):
    """MindSpeed-LLM's own arguments, MindSpeed's (the Ascend core it builds on) and
    those of the Megatron-LM release it pins."""
    llm = [p for p in ls(llm_repo) if p.endswith(".py") and (
        p == "mindspeed_llm/training/arguments.py" or p.startswith("mindspeed_llm/features_manager/"))]
    core = [p for p in ls(core_repo) if p.endswith(".py") and (
        p == "mindspeed/arguments.py" or p.startswith("mindspeed/features_manager/")
        or p.endswith("/arguments.py") or p.endswith("/arguments_basic.py"))]
    files, mflags = megatron(megatron_repo)
    return llm + core + files, literal_flags_of(llm_repo, llm) + literal_flags_of(core_repo, core) + mflags


def flagscale(fs_repo, megatron_repo):
    """FlagScale's training arguments: the Megatron-LM commit its submodule pins, plus the
    `add_argument` lines its patch of megatron/training/arguments.py adds (a patch is not
    Python, so its added lines are read with a pattern)."""
    import re
    patch = "flagscale/backends/Megatron-LM/megatron/training/arguments.py.patch"
    added = [l[1:] for l in show(fs_repo, patch).splitlines() if l.startswith("+") and not l.startswith("+++")]
    flags = []
    for line in added:
        flags += re.findall(r"add_argument\(\s*['\"](--[a-z0-9-]+)['\"]", line)
    files, mflags = megatron(megatron_repo)
    return [patch] + files, flags + mflags


def main():
    kind = sys.argv[1]
    repo = sys.argv[2]
    if kind == "megatron-lm":
        files, flags = megatron(repo)
        repos = [("NVIDIA/Megatron-LM", repo)]
    elif kind == "mindspeed-llm":
        files, flags = mindspeed(repo, sys.argv[3], sys.argv[4])
        repos = [("Ascend/MindSpeed-LLM", repo), ("Ascend/MindSpeed (its core)", sys.argv[3]),
                 ("NVIDIA/Megatron-LM (the release it pins)", sys.argv[4])]
    elif kind == "flagscale":
        files, flags = flagscale(repo, sys.argv[3])
        repos = [("FlagOpen/FlagScale", repo), ("NVIDIA/Megatron-LM (the commit its submodule pins)", sys.argv[3])]
    else:
        raise SystemExit(f"unknown framework {kind}")
    print(f"# Command-line arguments {kind} defines, extracted by tools/framework_args.py.")
    for name, r in repos:
        ref = split(r)[1]
        sha = git(r, "rev-parse", ref + "^{commit}").strip()
        date = git(r, "log", "-1", "--format=%cs", ref).strip()
        label = f"{ref} = {sha}" if ref != "HEAD" else sha
        print(f"# source: {name} at {label} ({date})")
    print(f"# files: {', '.join(files[:6])}{' ...' if len(files) > 6 else ''} (and their config dataclasses)")
    for f in sorted(set(flags)):
        print(f)


if __name__ == "__main__":
    main()
