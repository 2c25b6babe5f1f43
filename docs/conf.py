"""Sphinx configuration of the skhypernas site.

Build: ``python -m sphinx -W -b html docs docs/_build/html`` (warnings are errors).
The gallery runs every ``examples/plot_*.py``; they are sized to take about a
minute each on two CPU cores.
"""

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # document this checkout, installed or not
os.environ.setdefault("OMP_NUM_THREADS", "2")

import skhypernas  # noqa: E402

project = "skhypernas"
author = "skhypernas developers"
copyright = "skhypernas developers, BSD-3-Clause"
release = version = skhypernas.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "results", "auto_examples/*.ipynb", "**/*.py.md5"]
root_doc = "index"

autosummary_generate = True
# Classes get one page of their own members (the default template also tables the
# inherited ones, whose scikit-learn docstrings link to scikit-learn's labels).
templates_path = ["_templates"]
# Own members only: the inherited ones (score, get_params ...) and the metadata-routing
# setters scikit-learn generates are documented by scikit-learn, with its own labels.
autodoc_default_options = {"members": True, "exclude-members": "set_score_request, set_fit_request"}
# Methods get their own entries through autodoc; numpydoc's extra member tables would
# point at pages that autosummary does not generate.
numpydoc_show_class_members = False
numpydoc_xref_param_type = False

myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
}

html_theme = "alabaster"
html_static_path = []
html_theme_options = {"description": "Architecture search with complexity control, for scikit-learn"}
