"""The import graph runs down the layers and has no circle.

Every ``import`` in ``src/nestkube`` is read (with ast, including those inside functions and
under ``TYPE_CHECKING``: an import deferred to dodge a circle is still an arrow). A module may
import from its own layer or any layer below, never from one above, and no chain of imports
may come back to where it started. A new module must be given a layer here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

# Lowest first. A name is a module or a package (everything under it).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "foundation",
        (
            "nestkube._version",
            "nestkube.errors",
            "nestkube.defaults",
            "nestkube.status",
            "nestkube.names",
            "nestkube.yaml_errors",
            "nestkube.cache",
            "nestkube.host",
            "nestkube._exec",
            "nestkube.oci",
            "nestkube.kubeconfig",
        ),
    ),
    ("engines", ("nestkube.providers",)),
    ("node config", ("nestkube.kubeadm",)),
    (
        "node ops, kit, config",
        (
            "nestkube.nodeops",
            "nestkube.kit",
            "nestkube.storage",
            "nestkube.metrics_server",
            "nestkube.metallb",
            "nestkube.config",
        ),
    ),
    ("images, doctor", ("nestkube.images", "nestkube.doctor")),
    ("create", ("nestkube.create",)),
    (
        "operations",
        (
            "nestkube.lifecycle",
            "nestkube.load",
            "nestkube.logs",
            "nestkube.runners",
            "nestkube.registry",
            "nestkube.cluster_state",
            "nestkube.service_ports",
        ),
    ),
    ("facade", ("nestkube.cluster", "nestkube.conformance", "nestkube.testing", "nestkube")),
    ("cli", ("nestkube.cli", "nestkube.__main__")),
]


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted((SRC / "nestkube").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(module: str, path: Path) -> Iterator[str]:
    """The nestkube modules ``module`` imports (``from pkg import mod`` names the module)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parent, *([base] if base else [])])
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        else:
            continue
        for name in names:
            if name == "nestkube" or name.startswith("nestkube."):
                while name not in MODULES:
                    name = name.rpartition(".")[0]
                yield name


GRAPH = {module: sorted(set(_imports(module, path)) - {module}) for module, path in MODULES.items()}


def layer_of(module: str) -> int:
    """The layer of the longest name in LAYERS that ``module`` is or is under."""
    best, depth = -1, -1
    for index, (_, names) in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and name.count(".") > depth:
                best, depth = index, name.count(".")
    return best


def test_every_module_has_a_layer() -> None:
    assert [m for m in MODULES if layer_of(m) < 0] == []


def upward_arrows(graph: dict[str, list[str]]) -> list[str]:
    return [
        f"{module} ({LAYERS[layer_of(module)][0]}) -> {target} ({LAYERS[layer_of(target)][0]})"
        for module, targets in graph.items()
        for target in targets
        if layer_of(target) > layer_of(module)
    ]


def cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components: any of more than one module is a circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in graph.get(module, []):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    return found


def test_no_import_runs_up_a_layer() -> None:
    assert upward_arrows(GRAPH) == []


def test_the_import_graph_has_no_cycle() -> None:
    assert cycles(GRAPH) == []


# What the rest of nestkube may import of create: the pipeline, the plan and their context,
# the checks a dry run makes of a plan, the name's claim (whether a create holds it), and
# the workers added to or removed from a running cluster.
CREATE_API = (
    "nestkube.create.pipeline",
    "nestkube.create.resize",
    "nestkube.create.plan",
    "nestkube.create.context",
    "nestkube.create.checks",
    "nestkube.create.claim",
)


def test_only_create_imports_its_steps() -> None:
    """What others need of a node is in nestkube.nodeops; nothing outside create imports the
    steps that make a cluster (the old create.actions), only what CREATE_API names."""
    outside = [
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        if not module.startswith("nestkube.create.")
        for target in targets
        if target.startswith("nestkube.create.") and target not in CREATE_API
    ]
    assert outside == []
    assert "nestkube.create.actions" not in MODULES


def test_the_checks_see_an_upward_arrow_and_a_circle() -> None:
    # The arrows and the circle this layering removed.
    before = {
        "nestkube.config.model": ["nestkube.create.loadbalancer"],
        "nestkube.storage": ["nestkube.images.archive"],
        "nestkube.providers.base": ["nestkube.providers.facts"],
        "nestkube.providers.facts": ["nestkube.providers.engine"],
        "nestkube.providers.engine": ["nestkube.providers.base"],
        "nestkube.doctor.context": ["nestkube.runners.model"],
    }
    assert upward_arrows(before) == [
        "nestkube.config.model (node ops, kit, config) -> nestkube.create.loadbalancer (create)",
        "nestkube.storage (node ops, kit, config) -> nestkube.images.archive (images, doctor)",
        "nestkube.doctor.context (images, doctor) -> nestkube.runners.model (operations)",
    ]
    assert cycles(before) == [
        ["nestkube.providers.base", "nestkube.providers.engine", "nestkube.providers.facts"]
    ]
    # Imports inside functions count: the graph reads them.
    assert "nestkube.lifecycle" in GRAPH["nestkube.cluster"]
