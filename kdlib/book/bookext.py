"""The book's Sphinx extension (``_config.yml`` lists it): a book that works offline.

Three things jupyter-book 1.x does not do on its own:

1. **Math without a CDN.** Sphinx loads MathJax from ``cdn.jsdelivr.net`` by default, so a
   reader without network sees raw TeX. Here MathJax 3 comes from an installed package
   (``sphinx-mathjax-offline`` on PyPI, one of kdlib's dependencies), is copied into the
   build (``_static/mathjax/``) and loaded from there.
2. **One parameters cell per chapter.** Papermill adds a cell tagged ``injected-parameters``
   after the notebook's own ``parameters`` cell, so every executed chapter showed its
   parameters twice. :func:`hide_injected_parameters` writes the values papermill injected
   into the notebook's own cell (which keeps its comments and so shows what the chapter ran
   with) and tags the injected cell ``remove-cell``. It runs as the book reads each notebook;
   the executed notebooks on disk are left as papermill wrote them.
3. **Launch buttons that resolve.** The theme points Binder and Colab at the page's own path,
   ``book/generated/...``, which is not committed (the runner writes it). Here they point at
   the committed notebook each chapter was executed from (papermill records it).
"""
from __future__ import annotations

import ast
import json
from importlib import metadata
from pathlib import Path
from typing import Any

INJECTED_TAG = "injected-parameters"
PARAMETERS_TAG = "parameters"
REMOVE_TAG = "remove-cell"
#: The PyPI distribution that ships MathJax 3 (its files, under ``static/mathjax``).
MATHJAX_DISTRIBUTION = "sphinx-mathjax-offline"
#: The MathJax component the book loads (TeX and MathML input, CommonHTML output), as Sphinx's default.
MATHJAX_COMPONENT = "tex-mml-chtml.js"


# -- 1. MathJax from a package ---------------------------------------------------------------


def mathjax_dir() -> Path:
    """The folder of the installed MathJax 3 (the one holding ``tex-mml-chtml.js``).

    Raises:
        FileNotFoundError: the package is not installed (``make env`` installs it).
    """
    try:
        dist = metadata.distribution(MATHJAX_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise FileNotFoundError(
            f"MathJax is not installed: pip install {MATHJAX_DISTRIBUTION} (a dependency of kdlib)"
        ) from None
    for file in dist.files or ():
        if file.name == MATHJAX_COMPONENT and file.parent.name == "mathjax":
            folder = Path(dist.locate_file(file)).parent
            if (folder / MATHJAX_COMPONENT).is_file():
                return folder
    raise FileNotFoundError(f"{MATHJAX_DISTRIBUTION} is installed but holds no mathjax/{MATHJAX_COMPONENT}")


def _use_local_mathjax(app, config) -> None:
    if "://" not in (config.mathjax_path or "://"):
        return  # the book set a local MathJax of its own
    from sphinx.errors import ExtensionError

    try:
        folder = mathjax_dir()
    except FileNotFoundError as exc:
        raise ExtensionError(str(exc)) from exc
    # Every html_static_path folder is copied into _static/; this one holds mathjax/ only.
    config.html_static_path = [*config.html_static_path, str(folder.parent)]
    config.mathjax_path = f"{folder.name}/{MATHJAX_COMPONENT}"


# -- 2. One parameters cell --------------------------------------------------------------------


def _tags(cell: Any) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _source(cell: Any) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _assignments(source: str) -> dict[str, ast.Assign]:
    """``name = value`` statements of a cell, by name (the last one wins, as in Python)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            found[node.targets[0].id] = node
    return found


def _fold(own: str, injected: str) -> str:
    """``own`` with each value papermill injected in place of its default; new names appended."""
    values = {name: ast.get_source_segment(injected, node.value) for name, node in _assignments(injected).items()}
    lines = own.splitlines(keepends=True)
    targets = _assignments(own)
    # Replace from the end so that earlier offsets stay valid; single-line values only.
    for name, node in sorted(targets.items(), key=lambda item: (item[1].lineno, item[1].col_offset), reverse=True):
        value = node.value
        if name not in values or value.lineno != value.end_lineno:
            continue
        line = lines[value.lineno - 1].encode()
        start, end = value.col_offset, value.end_col_offset
        lines[value.lineno - 1] = (line[:start] + values[name].encode() + line[end:]).decode()
    text = "".join(lines)
    extra = [f"{name} = {values[name]}" for name in values if name not in targets]
    if extra:
        text = text.rstrip("\n") + "\n" + "\n".join(extra)
    return text


def hide_injected_parameters(notebook: Any) -> bool:
    """Show one parameters cell, with the values the notebook was executed with.

    Papermill's injected cell (tag ``injected-parameters``) gets the tag ``remove-cell``
    (jupyter-book leaves it out of the page), and the notebook's own ``parameters`` cell
    shows the injected values in place of its defaults, keeping its comments. A notebook
    without both cells is left as it is. Works on an ``nbformat`` notebook or a plain dict
    (``metadata``/``tags`` as in the .ipynb JSON); running it twice changes nothing more.

    Returns:
        whether the notebook changed.
    """
    cells = notebook["cells"]
    injected = [c for c in cells if INJECTED_TAG in _tags(c)]
    own = [c for c in cells if PARAMETERS_TAG in _tags(c)]
    if not injected or not own:
        return False
    changed = False
    folded = _source(own[0])
    for cell in injected:
        folded = _fold(folded, _source(cell))
        if REMOVE_TAG not in _tags(cell):
            cell.setdefault("metadata", {})["tags"] = [*_tags(cell), REMOVE_TAG]
            changed = True
    if folded != _source(own[0]):
        own[0]["source"] = folded
        changed = True
    return changed


def _on_source_read(app, docname: str, source: list[str]) -> None:
    if not str(app.env.doc2path(docname)).endswith(".ipynb"):
        return
    try:
        notebook = json.loads(source[0])
    except ValueError:
        return  # not JSON: leave it to the notebook reader to report
    if hide_injected_parameters(notebook):
        source[0] = json.dumps(notebook, ensure_ascii=False)


# -- 3. Launch buttons -------------------------------------------------------------------------


def committed_notebook(executed: str | Path, repo_root: Path) -> str | None:
    """The repository path of the notebook ``executed`` was run from (papermill's ``input_path``).

    ``None`` when ``executed`` is not a papermill output. A source outside ``repo_root``
    (a book built elsewhere from this repository's notebooks) keeps its folder and name,
    e.g. ``notebooks/01_data.ipynb``.
    """
    try:
        meta = json.loads(Path(executed).read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError):
        return None
    source = (meta.get("papermill") or {}).get("input_path")
    if not source:
        return None
    source_path = Path(source)
    try:
        return source_path.resolve().relative_to(repo_root.resolve()).as_posix()
    except ValueError:
        return f"{source_path.parent.name}/{source_path.name}" if source_path.parent.name else source_path.name


def _fix_launch_buttons(app, pagename: str, templatename: str, context: dict, doctree) -> None:
    buttons = [b for b in context.get("header_buttons", []) if b.get("label") == "launch-buttons"]
    if not buttons:
        return
    path = Path(app.env.doc2path(pagename))
    if path.suffix != ".ipynb":
        return
    book_path = app.config.html_theme_options.get("path_to_docs", "").strip("/")
    repo_root = Path(app.srcdir)
    for _ in Path(book_path).parts:
        repo_root = repo_root.parent
    committed = committed_notebook(path, repo_root)
    if committed is None:
        return
    # The theme's path for this page (see sphinx_book_theme's launch buttons): replace it.
    page_path = f"{book_path + '/' if book_path else ''}{pagename}.ipynb"
    for group in buttons:
        for button in group.get("buttons", []):
            if "url" in button:
                button["url"] = button["url"].replace(page_path, committed)


def setup(app) -> dict[str, Any]:
    app.connect("config-inited", _use_local_mathjax)
    app.connect("source-read", _on_source_read)
    # After sphinx-book-theme builds its launch buttons (priority 501).
    app.connect("html-page-context", _fix_launch_buttons, priority=600)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
