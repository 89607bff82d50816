"""Sphinx extension: write the API reference pages from ``fastconv.__all__``.

At ``builder-inited`` (before Sphinx looks for source files) this writes

* ``docs/api/generated/<name>.rst`` for every name in ``fastconv.__all__``:
  functions -> ``autofunction``, classes -> ``autoclass``/``autoexception``,
  submodules (``shapes``, ``signal``, ...) -> ``automodule`` with ``:members:``;
* ``docs/api/generated/summary.inc``: the grouped tables and the toctree that
  ``docs/api.rst`` includes.

So a new op appears in the reference as soon as it is exported; no page has
to be edited.  ``docs/api/generated`` is a build product (git-ignored); stale
pages from names that left ``__all__`` are deleted, unchanged pages are not
rewritten (incremental builds stay incremental).

Family pages (``docs/families/*.rst``) usually document the same objects with
``.. autofunction:: fastconv.<name>``.  Two indexed descriptions of one object
are a Sphinx warning (an error under ``-W``), so the family page is kept as the
canonical target and the generated entry for that object gets ``:no-index:``.
"""

from __future__ import annotations

import importlib
import inspect
import re
import types
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

PACKAGE = "fastconv"
OUT_SUBDIR = Path("api") / "generated"

_DIRECTIVE = re.compile(
    r"^(?P<indent>[ \t]*)\.\.[ \t]+(?P<kind>auto\w+|py:\w+|currentmodule|module)::[ \t]*(?P<arg>\S+)?"
)
_OPTION = re.compile(r"^[ \t]+:(?P<name>[\w-]+):(?P<value>.*)$")

# Group headings for the summary, keyed by the defining module; unknown
# modules get a heading from their own docstring, so new families need no edit.
_GROUP_TITLES = {
    "fastconv.conv": "Convolution",
    "fastconv.conv_transpose": "Transposed convolution",
    "fastconv.pool": "Pooling",
    "fastconv.interpolate": "Interpolation",
    "fastconv.signal": "Signal processing (scipy.signal drop-ins)",
    "fastconv.shapes": "Shape arithmetic",
}


def _kind(obj):
    if isinstance(obj, types.ModuleType):
        return "module"
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    if callable(obj):
        return "function"
    return "data"


def _summary(obj):
    doc = inspect.getdoc(obj) or ""
    line = doc.strip().split("\n\n")[0].replace("\n", " ").strip()
    name = getattr(obj, "__name__", "")
    if isinstance(obj, types.ModuleType):
        # "``fastconv.signal``: drop-in ..." -> "Drop-in ..."
        m = re.match(r"^`{0,2}" + re.escape(name) + r"`{0,2}\s*:\s*", line)
        if m and line[m.end():]:
            line = line[m.end():]
            line = line[:1].upper() + line[1:]
    return line


def _module_names(mod):
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [
            n for n, v in vars(mod).items()
            if not n.startswith("_") and getattr(v, "__module__", None) == mod.__name__
        ]
    return list(names)


def documented_elsewhere(rst_files, package):
    """Fully qualified names that other pages describe with an indexed directive.

    Returns ``(objects, modules)``.  Understands ``auto*``/``py:*`` directives,
    ``currentmodule``/``module`` context for short names, ``:no-index:`` and
    ``automodule`` with ``:members:`` (all of the module's ``__all__``).
    """
    objects, modules = set(), set()
    for path in rst_files:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        current = None
        i = 0
        while i < len(lines):
            m = _DIRECTIVE.match(lines[i])
            i += 1
            if not m:
                continue
            kind, arg = m.group("kind"), m.group("arg")
            opts = {}
            while i < len(lines) and (not lines[i].strip() or _OPTION.match(lines[i])):
                om = _OPTION.match(lines[i])
                if om:
                    opts[om.group("name")] = om.group("value").strip()
                elif not lines[i].strip():
                    break
                i += 1
            if not arg:
                continue
            if kind in ("currentmodule", "py:currentmodule"):
                current = None if arg == "None" else arg
                continue
            unindexed = "no-index" in opts or "noindex" in opts
            if kind in ("automodule", "module", "py:module"):
                current = arg
                if unindexed:
                    continue
                modules.add(arg)
                if kind == "automodule" and "members" in opts:
                    try:
                        mod = importlib.import_module(arg)
                    except Exception:
                        continue
                    members = opts["members"]
                    names = (
                        [n.strip() for n in members.split(",") if n.strip()]
                        if members else _module_names(mod)
                    )
                    objects.update(f"{arg}.{n}" for n in names)
                continue
            if unindexed:
                continue
            name = arg.split("(")[0]
            if not name.startswith(package + ".") and current:
                name = f"{current}.{name}"
            objects.add(name)
    return objects, modules


def _directive(kind, target, no_index, extra=()):
    lines = [f".. auto{kind}:: {target}"]
    if no_index:
        lines.append("   :no-index:")
    lines.extend(f"   {e}" for e in extra)
    return "\n".join(lines) + "\n"


def _page(name, obj, kind, objects, modules):
    full = f"{PACKAGE}.{name}"
    title = f"``{full}``"
    parts = [title, "=" * len(title), ""]
    if kind != "module":
        parts.append(_directive(kind, full, full in objects))
        return "\n".join(parts)
    # a module: automodule with :members:, minus what is described (indexed)
    # elsewhere; those follow explicitly with :no-index: so the reference
    # stays complete.
    members = _module_names(obj)
    taken = [n for n in members if f"{full}.{n}" in objects]
    if full in modules:
        # the module directive itself lives on another page: no second
        # module target here, every member listed explicitly.
        parts.append(f".. automodule:: {full}\n   :no-index:\n")
        parts.append(f".. currentmodule:: {full}\n")
        for n in members:
            sub = getattr(obj, n, None)
            parts.append(_directive(_kind(sub), f"{full}.{n}", f"{full}.{n}" in objects))
        return "\n".join(parts)
    extra = [":members:"]
    if taken:
        extra.append(":exclude-members: " + ", ".join(taken))
    parts.append(_directive("module", full, False, extra))
    for n in taken:
        sub = getattr(obj, n, None)
        parts.append(_directive(_kind(sub), f"{full}.{n}", True))
    return "\n".join(parts)


def _summary_inc(entries):
    """Grouped tables (by defining module) + the hidden toctree of all pages."""
    groups = {}
    for name, obj, kind in entries:
        if kind == "module":
            key = "__modules__"
        else:
            key = getattr(obj, "__module__", PACKAGE) or PACKAGE
            if kind == "exception":
                key = "__errors__"
        groups.setdefault(key, []).append((name, obj, kind))

    def heading(key):
        if key == "__modules__":
            return "Modules"
        if key == "__errors__":
            return "Exceptions"
        if key in _GROUP_TITLES:
            return _GROUP_TITLES[key]
        try:
            mod = importlib.import_module(key)
            first = _summary(mod).split(":")[0].rstrip(".")
            return first or key
        except Exception:
            return key

    def order(key):
        fixed = list(_GROUP_TITLES)
        if key == "__modules__":
            return (2, 0, key)
        if key == "__errors__":
            return (3, 0, key)
        return (0, fixed.index(key), key) if key in fixed else (1, 0, key)

    out = []
    for key in sorted(groups, key=order):
        title = heading(key)
        out += [title, "-" * len(title), ""]
        if not key.startswith("__"):
            out += [f"Defined in ``{key}``, exported as ``fastconv.<name>``.", ""]
        out += [".. list-table::", "   :widths: 35 65", ""]
        for name, obj, _kind_ in groups[key]:
            summ = _summary(obj).replace("|", "\\|") or " "
            out += [
                f"   * - :doc:`{PACKAGE}.{name} </{OUT_SUBDIR.as_posix()}/{name}>`",
                f"     - {summ}",
            ]
        out.append("")
    out += [".. toctree::", "   :hidden:", ""]
    out += [f"   /{OUT_SUBDIR.as_posix()}/{name}" for name, _, _ in entries]
    out.append("")
    return "\n".join(out)


def _write_if_changed(path, text):
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def generate(srcdir):
    """Write the generated API sources under ``srcdir/api/generated``."""
    srcdir = Path(srcdir)
    outdir = srcdir / OUT_SUBDIR
    outdir.mkdir(parents=True, exist_ok=True)
    pkg = importlib.import_module(PACKAGE)
    families = sorted((srcdir / "families").glob("*.rst"))
    others = [p for p in srcdir.rglob("*.rst")
              if OUT_SUBDIR.as_posix() not in p.as_posix() and "_build" not in p.parts]
    objects, modules = documented_elsewhere(sorted(set(families) | set(others)), PACKAGE)

    entries, written = [], set()
    for name in pkg.__all__:
        obj = getattr(pkg, name)
        kind = _kind(obj)
        entries.append((name, obj, kind))
        path = outdir / f"{name}.rst"
        _write_if_changed(path, _page(name, obj, kind, objects, modules))
        written.add(path.name)
    _write_if_changed(outdir / "summary.inc", _summary_inc(entries))
    written.add("summary.inc")
    for stale in outdir.iterdir():
        if stale.is_file() and stale.name not in written:
            stale.unlink()
    logger.info("api_gen: %d API pages in %s", len(entries), OUT_SUBDIR.as_posix())
    return entries


def _on_builder_inited(app):
    generate(app.srcdir)


def setup(app):
    app.connect("builder-inited", _on_builder_inited)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
