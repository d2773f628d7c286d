"""Sphinx configuration of gelsim's documentation (builds offline: no intersphinx, no downloads)."""

import os
import sys
import warnings

# The package from this checkout (so the pages match the source), and this folder for gallery_argv.
sys.path.insert(0, os.path.abspath(".."))
sys.path.insert(0, os.path.abspath(os.path.dirname(__file__)))

import gelsim  # noqa: E402

project = "gelsim"
author = "The gelsim developers"
copyright = "2026, the gelsim developers"
version = release = gelsim.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",   # MathJax shipped with the pages: equations render without a network
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

autosummary_generate = True
# Class pages (``_templates/autosummary/class.rst``) show gelsim's own members, inherited ones included,
# but not scikit-learn's (get_params, score ...), which scikit-learn documents.
# numpydoc: document class members from the docstrings, without a stub page per attribute.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r".*\.py$",   # run every example, so the gallery shows their real output and figures
    "download_all_examples": False,
    "remove_config_comments": True,
    "reset_argv": "gallery_argv.example_argv",  # an importable name, as sphinx-gallery asks
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
}

templates_path = ["_templates"]
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip",
                    "auto_examples/*.json", "auto_examples/*.md5", "auto_examples/*.pickle"]
html_theme = "pydata_sphinx_theme"
html_title = "gelsim"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_static_path = []

# Examples run with the non-interactive backend and must not warn about it.
warnings.filterwarnings("ignore", message="Matplotlib is currently using agg")


def _skip_sklearn_members(app, what, name, obj, skip, options):
    """scikit-learn adds ``set_*_request`` methods to every estimator class itself; they are its API."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_sklearn_members)
