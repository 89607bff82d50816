"""Sphinx configuration for the fastconv documentation.

Build (warnings are errors)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

At build time (``builder-inited``, before any page is read):

* ``_ext/api_gen.py`` writes ``api/generated/*.rst`` from ``fastconv.__all__``;
* every ``figures/draw_*.py`` is imported and its ``draw(outdir)`` called with
  ``outdir = docs/_static/generated`` (a ``pathlib.Path``), so pages can use
  ``.. image:: /_static/generated/<name>.png``.

Both output folders are build products (git-ignored).  Nothing here needs
torch, CuPy, a GPU or the network; importing fastconv compiles no kernel.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
import traceback
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "_ext"))

# Matplotlib: headless, before any figure script imports pyplot.
os.environ["MPLBACKEND"] = "Agg"
import matplotlib  # noqa: E402

matplotlib.use("Agg", force=True)

import fastconv  # noqa: E402

FIGURES = DOCS / "figures"
GENERATED_STATIC = DOCS / "_static" / "generated"
GENERATED_STATIC.mkdir(parents=True, exist_ok=True)  # also makes _static for html_static_path

# -- project -----------------------------------------------------------------

project = "fastconv"
author = "the fastconv developers"
copyright = "2026, the fastconv developers"
release = fastconv.__version__
version = ".".join(release.split(".")[:2])

# -- extensions --------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "numpydoc",
    "api_gen",
]
# sphinx.ext.intersphinx is deliberately not enabled: the build needs no network.

autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "signature"

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()  # docstring style is checked by tests/linters, not by -W
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = True

templates_path = []
exclude_patterns = ["_build", "**/.ipynb_checkpoints", "figures", "_ext", "README*"]
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"
default_role = "code"
pygments_style = "sphinx"
nitpicky = False

# -- HTML --------------------------------------------------------------------

html_theme = "alabaster"
html_title = f"fastconv {release}"
html_static_path = ["_static"]
html_theme_options = {
    "description": "Numba convolution kernels with PyTorch / SciPy semantics",
    "fixed_sidebar": True,
    "page_width": "1100px",
    "sidebar_width": "240px",
    "show_relbars": True,
}
html_sidebars = {"**": ["about.html", "navigation.html", "relations.html", "searchbox.html"]}
html_show_sourcelink = False

# The docs must build without torch, CuPy or a CUDA stack: fail (a warning,
# an error under -W) if anything imported them during the build.
_FORBIDDEN = ("torch", "cupy", "numba.cuda", "numba_cuda")
_MODULES_BEFORE = set(sys.modules)


def _forbidden_imports(before=None):
    """Forbidden packages (top names) imported since ``before`` (default: conf.py load)."""
    new = set(sys.modules) - (_MODULES_BEFORE if before is None else before)
    return sorted({f for f in _FORBIDDEN for m in new if m == f or m.startswith(f + ".")})


# -- figures drawn at build time ---------------------------------------------


def draw_figures(outdir=GENERATED_STATIC, figures=FIGURES, log=None):
    """Import every ``figures/draw_*.py`` and call its ``draw(outdir)``.

    Returns ``[(script name, seconds, error or None)]``.  A failing script is
    reported (a warning, hence an error under ``-W``) and the others still run.
    """
    import matplotlib.pyplot as plt

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    for old in outdir.glob("*.png"):  # drop pictures of scripts that no longer exist
        old.unlink()
    results = []
    if str(figures) not in sys.path:
        sys.path.insert(0, str(figures))
    for script in sorted(Path(figures).glob("draw_*.py")):
        modname = f"_fastconv_docs_figure_{script.stem}"
        t0 = time.perf_counter()
        err = None
        before = set(sys.modules)
        try:
            spec = importlib.util.spec_from_file_location(modname, script)
            mod = importlib.util.module_from_spec(spec)
            sys.modules[modname] = mod
            spec.loader.exec_module(mod)
            draw = getattr(mod, "draw", None)
            if not callable(draw):
                raise AttributeError(f"{script.name} defines no draw(outdir) function")
            draw(outdir)
            bad = _forbidden_imports(before)
            if bad:
                raise ImportError(f"{script.name} imported {', '.join(bad)} (the docs must "
                                  "build without torch, CuPy or CUDA)")
        except Exception as exc:  # report, keep going
            err = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            if log is not None:
                tb = traceback.format_exc(limit=-3)
                log.warning("figure script docs/figures/%s failed: %s\n%s", script.name, err, tb)
        finally:
            plt.close("all")
        results.append((script.name, time.perf_counter() - t0, err))
    return results


def _on_builder_inited(app):
    from sphinx.util import logging

    log = logging.getLogger("fastconv.docs.figures")
    for name, secs, err in draw_figures(log=log):
        if err is None:
            log.info("figure %s drawn in %.2f s", name, secs)


def _on_build_finished(app, exception):
    from sphinx.util import logging

    bad = _forbidden_imports()
    if bad:
        logging.getLogger("fastconv.docs").warning(
            "the docs build imported %s; it must not depend on torch, CuPy or CUDA "
            "(check the figure scripts and the modules autodoc imports)", ", ".join(bad)
        )


def _reread_everything(app, env, added, changed, removed):
    # Re-read every page on every build: the site is small (a few seconds),
    # and an incremental build would otherwise stay silent about a warning
    # in an unchanged page (e.g. an ``include`` of a file that went missing),
    # so ``-W`` on a reused docs/_build could pass while a clean build fails.
    return sorted(env.found_docs - set(added) - set(changed))


def setup(app):
    app.connect("builder-inited", _on_builder_inited)
    app.connect("env-get-outdated", _reread_everything)
    app.connect("build-finished", _on_build_finished)
