"""The project's own files agree with each other: dependencies, notebooks, the two commands."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
# conda-forge names; conda splits dask[distributed] in two
CONDA_NAMES = {"python-duckdb": "duckdb", "distributed": "dask", "pytorch-cpu": "torch"}


def _name(spec: str) -> str:
    return re.split(r"[=<>!~ \[]", spec.strip(), maxsplit=1)[0].lower()


def test_environment_yml_lists_the_pyproject_dependencies():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    conda = [line.strip()[2:] for line in (ROOT / "environment.yml").read_text().splitlines()
             if line.strip().startswith("- ") and not line.strip().startswith("- conda-forge")]
    conda_names = {CONDA_NAMES.get(_name(c), _name(c)) for c in conda} - {"python", "pip"}
    assert conda_names == {_name(d) for d in deps}
    assert "- python=3.11" in (ROOT / "environment.yml").read_text()


def test_binder_builds_the_root_environment_and_the_demo():
    assert (ROOT / "binder" / "environment.yml").resolve() == (ROOT / "environment.yml").resolve()
    post = (ROOT / "binder" / "postBuild").read_text()
    assert "lensfinder demo" in post and "cull_idle_timeout" in post


def test_notebooks_name_their_kernel():
    books = list((ROOT / "apps").glob("*.ipynb")) + list((ROOT / "notebooks").glob("*.ipynb"))
    assert books
    for path in books:
        nb = nbformat.read(path, as_version=4)
        assert nb.metadata.get("kernelspec", {}).get("name") == "python3", path


def test_readme_has_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines() if line.split("#")[0].strip()]
    assert commands == ["make run", "make test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "?urlpath=voila/render/apps/classify.ipynb" in readme


def test_every_module_imports_without_heavy_dependencies():
    """All modules compile and import; pages' modules do not pull lenstronomy or astropy in."""
    import importlib
    import pkgutil
    import subprocess
    import sys

    import lensfinder_nb
    names = [m.name for m in pkgutil.walk_packages(lensfinder_nb.__path__, "lensfinder_nb.")
             if not m.name.endswith("__main__")]
    for name in names:
        importlib.import_module(name)
    code = ("import sys, lensfinder_nb.ui.pages, lensfinder_nb.ui.classify, lensfinder_nb.ui.guide, "
            "lensfinder_nb.classify.session, lensfinder_nb.store, lensfinder_nb.ui.discuss, lensfinder_nb.ui.model; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('lenstronomy', 'astropy', 'torch')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
