"""The documentation: it builds with warnings as errors, and its API reference lists every public name."""

import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path

import gelsim

DOCS = Path(__file__).resolve().parent.parent / "docs"
#: Modules (attributes of ``gelsim``: the layers and the public modules) whose public functions and classes
#: the API reference must list.
PUBLIC_MODULES = ["steady", "cells", "simulation", "sampled", "learn", "conv", "datasets", "generators", "network",
                  "validation", "cli"]


def _public_names():
    names = {f"gelsim.{name}" for name in gelsim.__all__ if not inspect.ismodule(getattr(gelsim, name))}
    for module_name in PUBLIC_MODULES:
        module = getattr(gelsim, module_name, None) or importlib.import_module(f"gelsim.{module_name}")
        exported = getattr(module, "__all__", None)
        if exported is None:
            exported = [n for n, v in vars(module).items() if not n.startswith("_")
                        and (inspect.isfunction(v) or inspect.isclass(v)) and v.__module__ == module.__name__]
        for name in exported:
            obj = getattr(module, name)
            if inspect.ismodule(obj):
                continue
            top = getattr(gelsim, name, None) is obj and name in gelsim.__all__
            names.add(f"gelsim.{name}" if top else f"gelsim.{module_name}.{name}")
    return names


def test_api_reference_lists_every_public_name():
    text = (DOCS / "api.rst").read_text()
    listed = {f"gelsim.{entry}" for entry in re.findall(r"^   ([A-Za-z_][\w.]*)$", text, flags=re.M)}
    listed |= set(re.findall(r"^\.\. autodata:: ([\w.]+)$", text, flags=re.M))
    missing = _public_names() - listed
    assert not missing, f"public names missing from docs/api.rst: {sorted(missing)}"
    assert "gelsim.solve" in listed and "gelsim.sampled.ModelNetwork" in listed  # the parsing found entries


def test_docs_build_with_warnings_as_errors(tmp_path):
    """The whole site, gallery included (every example runs), builds offline with -W."""
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "-d", str(tmp_path / "doctrees"),
         str(DOCS), str(tmp_path / "html")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-5000:]
    for page in ("index", "theory", "guide", "api", "performance", "references", "auto_examples/index"):
        assert (tmp_path / "html" / f"{page}.html").exists(), page
    api = (tmp_path / "html" / "generated" / "gelsim.simulate.html").read_text()
    assert "replications" in api  # the numpydoc parameters made it into the page
