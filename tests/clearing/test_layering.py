"""The clearing engine and the risk models import each other in one direction only (issue 12, item 5).

``zkclear.risk`` (option pricing, scenario tables, portfolio margin, oracle guard, volatility) knows no
clearing type; ``zkclear.clearing`` uses the risk models. Checked on the source (every ``import``, also those
inside functions) and by importing the risk package alone in a fresh interpreter.
"""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("zkclear.clearing", "zkclear.risk")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every zkclear module ``path`` imports (module level or inside a function)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("zkclear.")}


def _graph() -> dict[str, set[str]]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package.replace(".", "/")).glob("*.py")):
            modules[_module_name(path)] = _imports(path)
    return {name: {target for target in targets if target in modules and target != name}
            for name, targets in modules.items()}


def test_risk_imports_nothing_from_clearing():
    offenders = {name: sorted(t for t in targets if t.startswith("zkclear.clearing"))
                 for name, targets in _graph().items() if name.startswith("zkclear.risk")}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_no_import_cycle_between_clearing_and_risk_modules():
    graph = _graph()
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target):], target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_risk_package_imports_and_works_without_the_clearing_engine():
    code = ("import sys\n"
            "from zkclear.risk import oracle, portfolio_margin, scenarios, dynamic_params, options\n"
            "from zkclear.risk.options import OptionSpec, OptionType, option_mark\n"
            "mark = option_mark(OptionSpec('C', 'BTC', OptionType.CALL, 100, 86400, 1), 100, 500000, 0)\n"
            "assert mark.mark_price_ticks > 0\n"
            "print(sorted(m for m in sys.modules if m.startswith('zkclear.clearing')))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "[]"
