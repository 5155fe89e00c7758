"""What a module imports, read from its source: the world families' independence tests use it."""

import ast
from pathlib import Path
from types import ModuleType


def imported_modules(module: ModuleType | Path) -> set[str]:
    """Every module ``import``-ed by ``module`` (a module or a source path); relative ones keep
    their leading dots."""
    path = module if isinstance(module, Path) else Path(str(module.__file__))
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
    return names
