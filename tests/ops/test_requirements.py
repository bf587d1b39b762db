"""The requirements are split and locked (issue 21.11).

requirements.in / requirements-dev.in name what we depend on; `make lock` compiles them to
requirements.txt (runtime: what production and `make run` install) and requirements-dev.txt
(tests and lint, on top of it), each with an exact version and hashes for every package,
transitive ones included, so `pip install --require-hashes` installs exactly what was locked.
These tests read the files only: no network, no pip.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_CODE = ["app.py", "bot", "handlers", "storage"]
LOCAL_PACKAGES = {"app", "bot", "handlers", "storage", "tests", "bench"}


def _logical_lines(path: Path) -> list[str]:
    """The file's lines with backslash continuations joined and comments dropped."""
    joined, current = [], ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        if current.strip():
            joined.append(current.strip())
        current = ""
    if current.strip():
        joined.append(current.strip())
    return joined


def _lock(name: str) -> dict[str, tuple[str, list[str]]]:
    """A locked file: {canonical name: (the requirement as written, its hashes)}; asserts the shape."""
    path = ROOT / name
    entries: dict[str, tuple[str, list[str]]] = {}
    for line in _logical_lines(path):
        assert not line.startswith("-"), f"{name}: an option line in a lock file: {line!r} (regenerate with make lock)"
        spec, *options = line.split(" --")
        options = [o.strip() for o in options]
        hashes = [o.removeprefix("hash=") for o in options if o.startswith("hash=")]
        assert len(hashes) == len(options), f"{name}: {spec!r} carries an option other than --hash: {options}"
        req = Requirement(spec.strip())
        key = canonicalize_name(req.name)
        assert key not in entries, f"{name}: {req.name} is listed twice"
        entries[key] = (spec.strip(), hashes)
    return entries


def _in_file(name: str) -> dict[str, Requirement]:
    reqs: dict[str, Requirement] = {}
    for line in _logical_lines(ROOT / name):
        if line.startswith("-"):
            continue  # -c requirements.txt
        req = Requirement(line)
        reqs[canonicalize_name(req.name)] = req
    return reqs


def _pinned_version(spec: str) -> str | None:
    req = Requirement(spec)
    specifiers = list(req.specifier)
    if req.url or req.extras or len(specifiers) != 1 or specifiers[0].operator != "==" or "*" in specifiers[0].version:
        return None
    return specifiers[0].version


def _runtime_imports() -> dict[str, set[str]]:
    """Top-level third-party modules imported anywhere in the runtime code: {module: {files}}."""
    found: dict[str, set[str]] = {}
    files = [ROOT / "app.py"] + [p for d in RUNTIME_CODE[1:] for p in sorted((ROOT / d).rglob("*.py"))]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for module in names:
                top = module.split(".")[0]
                if top not in sys.stdlib_module_names and top not in LOCAL_PACKAGES:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_both_lock_files_pin_every_package_with_hashes():
    for name in ("requirements.txt", "requirements-dev.txt"):
        entries = _lock(name)
        assert entries, f"{name} is empty"
        unpinned = [spec for spec, _ in entries.values() if _pinned_version(spec) is None]
        assert not unpinned, f"{name}: not an exact == pin without extras (run make lock): {unpinned}"
        unhashed = [spec for spec, hashes in entries.values() if not hashes]
        assert not unhashed, f"{name}: no --hash (run make lock): {unhashed}"
        bad = [h for _, hashes in entries.values() for h in hashes if not re.fullmatch(r"sha256:[0-9a-f]{64}", h)]
        assert not bad, f"{name}: hashes that are not sha256: {bad[:3]}"


def test_the_lock_files_agree_with_each_other_and_with_the_in_files():
    runtime, dev = _lock("requirements.txt"), _lock("requirements-dev.txt")
    disagree = {n: (runtime[n][0], dev[n][0]) for n in runtime.keys() & dev.keys() if runtime[n][0] != dev[n][0]}
    assert not disagree, f"locked at two versions (requirements-dev.in must keep -c requirements.txt): {disagree}"
    assert "-c requirements.txt" in _logical_lines(ROOT / "requirements-dev.in")
    for in_name, lock in (("requirements.in", runtime), ("requirements-dev.in", dev)):
        for key, req in _in_file(in_name).items():
            assert key in lock, f"{req.name} is in {in_name} but not in its lock: run make lock"
            locked = _pinned_version(lock[key][0])
            assert locked is not None and req.specifier.contains(locked, prereleases=True), (
                f"{in_name} asks for {req} but the lock has {lock[key][0]}: run make lock")


def test_extras_asked_for_at_runtime_are_locked():
    """--strip-extras writes fakeredis[lua] as fakeredis: its Lua (lupa) must be locked by name."""
    runtime = _lock("requirements.txt")
    for req in _in_file("requirements.in").values():
        for extra in req.extras:
            try:
                declared = requires(req.name) or []
            except PackageNotFoundError:
                continue  # not installed here: the install itself would have failed
            for dep in map(Requirement, declared):
                if dep.marker and dep.marker.evaluate({"extra": extra}) and not dep.marker.evaluate({"extra": ""}):
                    assert canonicalize_name(dep.name) in runtime, f"{req.name}[{extra}] needs {dep.name}, not locked"


def test_test_tools_do_not_install_in_production():
    runtime = _lock("requirements.txt")
    leaked = sorted(set(_in_file("requirements-dev.in")) & set(runtime))
    assert not leaked, f"test and lint tools in the runtime lock: {leaked}"


def test_every_package_the_runtime_code_imports_is_a_runtime_requirement():
    runtime, dev = _lock("requirements.txt"), _lock("requirements-dev.txt")
    declared = set(_in_file("requirements.in"))
    distributions = packages_distributions()
    problems = []
    for module, files in sorted(_runtime_imports().items()):
        where = ", ".join(sorted(files)[:3])
        names = {canonicalize_name(d) for d in distributions.get(module, [])}
        if not names:
            problems.append(f"{module} (imported in {where}) is not installed by either requirements file")
        elif not names & runtime.keys():
            only_dev = "only in requirements-dev.txt" if names & dev.keys() else "in neither lock file"
            problems.append(f"{module} (imported in {where}) is {only_dev}: add {sorted(names)[0]} to requirements.in")
        elif not names & declared:
            problems.append(f"{module} (imported in {where}) comes in only through another package: "
                            f"name {sorted(names)[0]} in requirements.in")
    assert not problems, "runtime imports without a runtime requirement (then make lock):\n" + "\n".join(problems)


def test_make_and_the_deployment_guide_install_with_hashes_and_production_gets_no_test_tools():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    installs = [line.strip() for line in makefile.splitlines() if re.search(r"pip install .*-r requirements", line)]
    assert installs and all("--require-hashes" in line for line in installs), installs
    runtime_recipe = re.search(r"^\$\(STAMP\):.*\n((?:\t.*\n)+)", makefile, re.M)
    assert runtime_recipe and "requirements-dev" not in runtime_recipe.group(0), "make run: requirements.txt only"
    dev_rule = re.search(r"^\$\(DEV_STAMP\):(.*)$", makefile, re.M)
    assert dev_rule and {"requirements.txt", "requirements-dev.txt"} <= set(dev_rule.group(1).split())
    assert re.search(r"^run: \$\(STAMP\)", makefile, re.M) and re.search(r"^test: \$\(DEV_STAMP\)", makefile, re.M)
    guide = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    guide_installs = [line for line in guide.splitlines() if "pip install" in line]
    assert guide_installs, "the deployment guide says how to install"
    assert all("--require-hashes -r requirements.txt" in line for line in guide_installs), guide_installs
    assert not [line for line in guide_installs if "requirements-dev" in line], "production installs no test tools"
