"""The package's layering, read from its source with ``ast`` (nothing is imported).

Layers, bottom to top (:data:`LAYERS`, keyed by the first component below ``collapse_theory``)::

    _validate < rng < sources < samplers < metrics = mixture < policies < fits < engine
      < family = chain < gaussian = discrete = gmm = kde = regression = theory
      < the package root (``collapse_theory/__init__.py``) < figures = testing < verify = reproduce < cli = __main__

The graph has one edge per ``import``/``from ... import`` between two modules of the package,
at module level or inside a function; ``from P import name`` goes to the submodule ``P.name``
when there is one, else to ``P`` itself.  The rules:

(a) **no cycles** between modules;
(b) **no private names across modules**: no ``from m import _x`` and no ``m._x`` (``m`` a module
    of the package) unless ``_x`` is itself a module; a private *module* (``_validate``,
    ``figures/_common``, ``samplers/_rounds``) is imported only from inside the package that
    holds it (``_validate``: everywhere), and only its public names are used;
(c) **imports at module level**: a function-local (or class-body) import is allowed only in
    the application layers ``figures/``, ``verify/`` and ``cli/`` (and ``__main__``), which load
    families and plotting on demand, and anywhere for ``matplotlib`` (:data:`LAZY_EXTERNAL`);
    library modules import at module level, so their headers state what they depend on;
(d) **downward only**: a module imports modules of its own layer or lower ones, never a higher
    one; ``theory/`` (the closed forms) imports strictly lower layers only: families may use
    theory, theory never imports a family.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import NamedTuple


PKG = "collapse_theory"
ROOT = Path(__file__).resolve().parents[1] / PKG

#: Rank of each top-level component ("" is the package root ``__init__``).
LAYERS = {
    "_validate": 0, "_io": 0,
    "rng": 1,
    "sources": 2,
    "samplers": 3,
    "metrics": 4, "mixture": 4,
    "policies": 5,
    "fits": 6,
    "engine": 7,
    "family": 8, "chain": 8,
    "gaussian": 9, "discrete": 9, "gmm": 9, "kde": 9, "regression": 9, "theory": 9,
    "vae": 9, "lm": 9,
    "": 10,
    "figures": 11, "testing": 11,
    "verify": 12, "reproduce": 12,
    "cli": 13, "__main__": 13,
}
#: Components that import strictly lower layers only (not their own rank).
STRICT = {"theory"}
#: Components whose modules may import inside functions (rule c).
LAZY_LAYERS = {"figures", "verify", "reproduce", "cli", "__main__"}
#: External packages any module may import inside a function (rule c).
LAZY_EXTERNAL = {"matplotlib", "wordfreq"}



class Import(NamedTuple):
    importer: str  # dotted module name
    target: str  # dotted module name (package-internal) or the external module
    name: str | None  # the name taken from ``target`` (None: the module itself)
    local: bool  # inside a function or class body
    line: int

    @property
    def internal(self) -> bool:
        return self.target == PKG or self.target.startswith(PKG + ".")

    def where(self) -> str:
        return f"{self.importer}:{self.line}"


def _module_names() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _module_names()


def _is_package(module: str) -> bool:
    return MODULES[module].name == "__init__.py"


def _resolve_from(importer: str, module: str | None, level: int) -> str:
    if level == 0:
        return module or ""
    base = importer.split(".")
    if not _is_package(importer):
        base = base[:-1]
    base = base[:len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


class _Reader(ast.NodeVisitor):
    """Imports, module bindings and private attribute reads of one module."""

    def __init__(self, module: str):
        self.module = module
        self.imports: list[Import] = []
        self.bindings: dict[str, str] = {}  # local name -> package module it is bound to
        self.attributes: list[tuple[str, str, int]] = []  # (module, private attr, line)
        self.depth = 0

    def _scoped(self, node):
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = visit_Lambda = _scoped

    def visit_Import(self, node: ast.Import):
        for alias in node.names:
            self.imports.append(Import(self.module, alias.name, None, self.depth > 0, node.lineno))
            if alias.name in MODULES:
                if alias.asname:
                    self.bindings[alias.asname] = alias.name
                elif alias.name == PKG or "." not in alias.name:
                    self.bindings[alias.name] = alias.name

    def visit_ImportFrom(self, node: ast.ImportFrom):
        source = _resolve_from(self.module, node.module, node.level)
        for alias in node.names:
            sub = f"{source}.{alias.name}"
            if sub in MODULES:
                self.imports.append(Import(self.module, sub, None, self.depth > 0, node.lineno))
                self.bindings[alias.asname or alias.name] = sub
            else:
                self.imports.append(Import(self.module, source, alias.name, self.depth > 0,
                                           node.lineno))

    def _module_of(self, node) -> str | None:
        if isinstance(node, ast.Name):
            return self.bindings.get(node.id)
        if isinstance(node, ast.Attribute):
            parent = self._module_of(node.value)
            if parent is not None and f"{parent}.{node.attr}" in MODULES:
                return f"{parent}.{node.attr}"
        return None

    def visit_Attribute(self, node: ast.Attribute):
        module = self._module_of(node.value)
        if module is not None and _private(node.attr):
            self.attributes.append((module, node.attr, node.lineno))
        self.generic_visit(node)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _read(module: str) -> _Reader:
    reader = _Reader(module)
    reader.visit(ast.parse(MODULES[module].read_text(encoding="utf-8"), str(MODULES[module])))
    return reader


READERS = {module: _read(module) for module in MODULES}
IMPORTS = [imp for reader in READERS.values() for imp in reader.imports]


def _component(module: str) -> str:
    parts = module.split(".")[1:]
    return parts[0] if parts else ""


def _rank(module: str) -> int:
    return LAYERS[_component(module)]


def _private_module_holder(module: str) -> str | None:
    """The package holding the first private component of ``module`` (None: no such)."""
    parts = module.split(".")
    for i, part in enumerate(parts[1:], start=1):
        if _private(part) and part != "__main__":
            return ".".join(parts[:i])
    return None


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


# ------------------------------------------------------------------------------------------------
# Violations, found afresh on every run


def _layer_violations() -> dict[tuple, str]:
    out = {}
    for imp in IMPORTS:
        if not imp.internal or imp.target == imp.importer:
            continue
        mine, theirs = _rank(imp.importer), _rank(imp.target)
        same = _component(imp.importer) == _component(imp.target)
        if theirs > mine or (theirs == mine and not same and _component(imp.importer) in STRICT):
            out.setdefault((imp.importer, imp.target, "layer"), imp.where())
    return out


def _local_violations() -> dict[tuple, str]:
    out = {}
    for imp in IMPORTS:
        if not imp.local or _component(imp.importer) in LAZY_LAYERS:
            continue
        if not imp.internal and imp.target.split(".")[0] in LAZY_EXTERNAL:
            continue
        out.setdefault((imp.importer, imp.target, "local"), imp.where())
    return out


def _private_violations() -> dict[tuple, str]:
    out = {}
    for imp in IMPORTS:
        if not imp.internal:
            continue
        if imp.name is not None and _private(imp.name):
            out.setdefault((imp.importer, f"{imp.target}.{imp.name}", "private"), imp.where())
        holder = _private_module_holder(imp.target)
        if holder is not None and not _within(imp.importer, holder):
            out.setdefault((imp.importer, imp.target, "private"), imp.where())
    for module, reader in READERS.items():
        for target, attr, line in reader.attributes:
            out.setdefault((module, f"{target}.{attr}", "private"), f"{module}:{line}")
    return out


def _edges() -> dict[str, set[str]]:
    graph = {module: set() for module in MODULES}
    for imp in IMPORTS:
        if imp.internal and imp.target != imp.importer:
            graph[imp.importer].add(imp.target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected component with more than one module (Tarjan)."""
    index, low, stack, on_stack, comps = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    cycles = []
    for comp in comps:  # walk from the smallest member back to itself inside the component
        start = min(comp)
        path, seen = [start], {start}
        while True:
            nxt = sorted(w for w in graph[path[-1]] if w in comp)
            back = [w for w in nxt if w == start]
            if back and len(path) > 1:
                cycles.append(path + [start])
                break
            fresh = [w for w in nxt if w not in seen]
            if not fresh:  # dead end for this greedy walk: report the component instead
                cycles.append(sorted(comp))
                break
            path.append(fresh[0])
            seen.add(fresh[0])
    return cycles


def _unexpected(found: dict[tuple, str]) -> list[str]:
    return [f"{a} -> {b} ({rule}) at {where}" for (a, b, rule), where in sorted(found.items())]


# ------------------------------------------------------------------------------------------------
# Tests


def test_the_reader_sees_the_imports():
    """Guards the parser: edges this test relies on are found, at the right scope."""
    edges = _edges()
    assert "collapse_theory.rng" in edges["collapse_theory.engine"]
    assert "collapse_theory.rng" in edges["collapse_theory.samplers.gamma"]
    assert "collapse_theory.samplers._rounds" in edges["collapse_theory.samplers.gamma"]
    assert "collapse_theory.fits" in edges["collapse_theory.theory.kde"]
    assert any(imp.local and imp.importer.startswith("collapse_theory.cli.") and imp.internal
               for imp in IMPORTS)
    assert all(reader.depth == 0 for reader in READERS.values())


def test_every_module_has_a_layer():
    missing = sorted(m for m in MODULES if _component(m) not in LAYERS)
    assert not missing, f"modules outside LAYERS (add their component): {missing}"


def test_no_import_cycles():
    cycles = _cycles(_edges())
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_no_private_names_across_modules():
    bad = _unexpected(_private_violations())
    assert not bad, "private names read from another module:\n" + "\n".join(bad)


def test_imports_at_module_level():
    bad = _unexpected(_local_violations())
    assert not bad, ("function-local imports outside figures/, verify/, cli/ (move them to the "
                     "module header, or break the cycle that needs them):\n" + "\n".join(bad))


def test_layers_import_downward():
    bad = _unexpected(_layer_violations())
    assert not bad, "imports of a higher layer:\n" + "\n".join(bad)

