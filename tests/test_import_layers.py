"""The project's imports point one way: interfaces -> services -> engine -> core, with no cycle.

Every import of the project's own modules (datapipeline, exports, optout, config, wiki; not the
tests or the benchmark) is read from the source with ``ast``, at the top of a module and inside
functions alike, and checked against ``LAYERS`` (docs/export-engine.md, "Layers"):

- no import cycle between modules (imports under ``if TYPE_CHECKING:``, for annotations only, never
  run and are left out);
- no import of a module in a higher layer (a module not in the map fails: place it first);
- no import of a site app's models (wiki, exports, optout) from an engine or core module.

There is no allow-list: every violation fails, each listed with its file and line.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("datapipeline", "exports", "optout", "config", "wiki")

CORE, ENGINE, SERVICES, INTERFACES = 0, 1, 2, 3
LAYER_NAMES = {CORE: "core", ENGINE: "engine", SERVICES: "services", INTERFACES: "interfaces"}

# Module (or package prefix) -> layer; the longest matching prefix wins.
LAYERS = {
    # core: errors, job states, time formats, configuration properties, the pipeline's own tables
    "datapipeline": CORE,  # the package itself (empty __init__)
    "datapipeline.errors": CORE,
    "datapipeline.isotime": CORE,
    "datapipeline.jobstatus": CORE,
    "datapipeline.properties": CORE,
    "datapipeline.models": CORE,
    "datapipeline.migrations": CORE,
    # engine: the export machinery; takes the job as plain values and callbacks
    "datapipeline.runner": ENGINE,
    "datapipeline.control": ENGINE,
    "datapipeline.heartbeat": ENGINE,
    "datapipeline.throttle": ENGINE,
    "datapipeline.sitelatency": ENGINE,
    "datapipeline.shutdown": ENGINE,
    "datapipeline.jobfiles": ENGINE,
    "datapipeline.csvfile": ENGINE,
    "datapipeline.parquetfile": ENGINE,
    "datapipeline.loaders": ENGINE,
    "datapipeline.safefiles": ENGINE,
    "datapipeline.paths": ENGINE,
    "datapipeline.pgcopy": ENGINE,
    "datapipeline.formatting": ENGINE,
    "datapipeline.schema": ENGINE,
    "datapipeline.schema_reference": ENGINE,
    "datapipeline.registry": ENGINE,
    "datapipeline.kinds": ENGINE,
    "datapipeline.batches": ENGINE,
    "datapipeline.engine": ENGINE,
    "datapipeline.queries": ENGINE,
    "datapipeline.changes": ENGINE,
    "datapipeline.stored": ENGINE,
    "datapipeline.incremental": ENGINE,
    "datapipeline.reconcile": ENGINE,
    # services: the job lifecycle, starting exports, schedules, opt-outs, configuration, tokens,
    # inputs, audit, and the site apps' data (models, selectors)
    "exports": SERVICES,
    "exports.jobs": SERVICES,
    "exports.services": SERVICES,
    "exports.inputs": SERVICES,
    "exports.schedules": SERVICES,
    "exports.configuration": SERVICES,
    "exports.tokens": SERVICES,
    "exports.audit": SERVICES,
    "exports.selectors": SERVICES,
    "exports.models": SERVICES,
    "exports.migrations": SERVICES,
    "optout": SERVICES,
    "optout.services": SERVICES,
    "optout.selectors": SERVICES,
    "optout.models": SERVICES,
    "optout.migrations": SERVICES,
    "wiki": SERVICES,
    "wiki.models": SERVICES,
    "wiki.services": SERVICES,
    "wiki.datasets": SERVICES,
    "wiki.demo": SERVICES,
    "wiki.migrations": SERVICES,
    # interfaces: REST API, admin, commands, tasks and signal hooks, app wiring, URLs, settings
    "datapipeline.admin": INTERFACES,
    "datapipeline.api_base": INTERFACES,
    "datapipeline.api_errors": INTERFACES,
    "datapipeline.authentication": INTERFACES,
    "datapipeline.permissions": INTERFACES,
    "datapipeline.parsers": INTERFACES,
    "datapipeline.urls": INTERFACES,
    "datapipeline.management": INTERFACES,
    "datapipeline.apps": INTERFACES,
    "exports.api": INTERFACES,
    "exports.api_fields": INTERFACES,
    "exports.admin": INTERFACES,
    "exports.admin_pipeline": INTERFACES,
    "exports.admin_forms": INTERFACES,
    "exports.admin_views": INTERFACES,
    "exports.tasks": INTERFACES,
    "exports.housekeeping": INTERFACES,
    "exports.cluster_announce": INTERFACES,
    "exports.site_run": INTERFACES,
    "exports.management": INTERFACES,
    "exports.apps": INTERFACES,
    "optout.api": INTERFACES,
    "optout.admin": INTERFACES,
    "optout.management": INTERFACES,
    "optout.apps": INTERFACES,
    "wiki.views": INTERFACES,
    "wiki.urls": INTERFACES,
    "wiki.admin": INTERFACES,
    "wiki.management": INTERFACES,
    "wiki.apps": INTERFACES,
    "config": INTERFACES,
}

SITE_MODELS = ("wiki.models", "exports.models", "optout.models")


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    where: str  # path:line

    def __str__(self) -> str:
        layers = f"{LAYER_NAMES.get(layer_of(self.importer))} -> {LAYER_NAMES.get(layer_of(self.imported))}"
        return f"{self.where}: {self.importer} imports {self.imported} ({layers})"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def _resolve(importer: str, is_package: bool, node: ast.ImportFrom | ast.Import) -> list[str]:
    """The project modules an import statement loads (the submodule when ``from X import submodule``)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = importer.split(".") if is_package else importer.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, base] if base else package)
    targets = []
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        targets.append(submodule if submodule in MODULES else base)
    return targets


def _project_module(name: str) -> str | None:
    """``name`` or its nearest enclosing module among the project's modules; None outside the project."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _type_checking_imports(tree: ast.AST) -> set[ast.AST]:
    """Imports under ``if TYPE_CHECKING:``: read by type checkers for annotations, never run."""
    guarded: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", None)) == "TYPE_CHECKING":
            guarded.update(child for statement in node.body for child in ast.walk(statement))
    return guarded


def _imports() -> list[Import]:
    found = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        annotations_only = _type_checking_imports(tree)
        for node in ast.walk(tree):  # the top level and every function body
            if not isinstance(node, ast.Import | ast.ImportFrom) or node in annotations_only:
                continue
            for target in _resolve(name, path.name == "__init__.py", node):
                module = _project_module(target)
                if module is not None and module != name:
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    found.append(Import(name, module, where))
    return found


IMPORTS = _imports()


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        layer = LAYERS.get(".".join(parts[:end]))
        if layer is not None:
            return layer
    return None


def _cycles(imports: list[Import]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for item in imports:
        graph[item.importer].add(item.imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def _report(violations: list[Import], what: str) -> None:
    assert not violations, f"{what}:\n" + "\n".join(map(str, violations))


def test_the_walk_sees_top_level_and_function_level_imports():
    pairs = {(i.importer, i.imported) for i in IMPORTS}
    assert ("exports.jobs", "datapipeline.runner") in pairs  # top level, absolute
    assert ("exports.jobs", "exports.models") in pairs  # top level, relative
    assert ("exports.admin_views.schedule", "exports.schedules") in pairs  # ``from .. import schedules``
    assert ("exports.housekeeping", "exports.jobs") in pairs  # inside a function


def test_every_module_has_a_layer():
    unplaced = sorted(m for m in MODULES if layer_of(m) is None)
    assert not unplaced, "place these modules in LAYERS (and docs/export-engine.md): " + ", ".join(unplaced)


def test_no_import_points_up_the_layers():
    upward = [i for i in IMPORTS if layer_of(i.imported) > layer_of(i.importer)]  # type: ignore[operator]
    _report(upward, "imports that point up the layer map (core < engine < services < interfaces)")


def test_the_engine_imports_no_site_app_models():
    below_services = [i for i in IMPORTS if layer_of(i.importer) in (CORE, ENGINE)]
    _report([i for i in below_services if i.imported in SITE_MODELS], "engine or core modules importing app models")


def test_no_import_cycle():
    cycles = _cycles(IMPORTS)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)
