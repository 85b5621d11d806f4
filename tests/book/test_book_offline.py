"""The book renders offline: MathJax comes from an installed package and is copied into the
build, each executed chapter shows one parameters cell (the values it ran with), and launch
buttons open the committed notebooks. A one-page book (plus one executed notebook) is built
with the repository's own _config.yml; headless Chromium then renders the math page and must
make no request that leaves the machine."""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import nbformat
import pytest

from kdlib.book import bookext, runner

ROOT = Path(__file__).resolve().parents[2]

MATH_PAGE = r"""# Margin-MSE

The loss of a student $M_s$ on a teacher $M_t$ is

$$
\mathcal{L}(Q, P^+, P^-) = \operatorname{MSE}\big(M_s(Q,P^+) - M_s(Q,P^-),\; M_t(Q,P^+) - M_t(Q,P^-)\big)
$$
"""

TOC = """format: jb-book
root: book/math
chapters:
  - file: book/generated/distillation/colbert__T1__margin_mse
"""


def _executed_notebook() -> nbformat.NotebookNode:
    """What papermill writes for 04_distillation with arch=colbert (its cells, tags and metadata)."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata.update({
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "papermill": {"input_path": str(ROOT / "notebooks" / "04_distillation.ipynb"),
                      "output_path": "book/generated/distillation/colbert__T1__margin_mse.ipynb",
                      "parameters": {"profile": "tiny", "arch": "colbert", "teacher": "T1"}},
    })
    own = nbformat.v4.new_code_cell(
        '# Parameters (papermill overrides these)\nprofile = "embedded"  # tiny | embedded | msmarco\n'
        'arch = "bert_dot"\nteacher = "T2"\nloss = "margin_mse"', metadata={"tags": ["parameters"]})
    injected = nbformat.v4.new_code_cell('# Parameters\nprofile = "tiny"\narch = "colbert"\nteacher = "T1"\n',
                                         metadata={"tags": ["injected-parameters"]})
    shown = nbformat.v4.new_code_cell("print(arch)")
    shown.outputs = [nbformat.v4.new_output("stream", name="stdout", text="colbert\n")]
    notebook.cells = [nbformat.v4.new_markdown_cell("# A distillation run"), own, injected, shown]
    return notebook


def test_hide_injected_parameters_folds_the_values_into_the_own_cell():
    notebook = _executed_notebook()
    assert bookext.hide_injected_parameters(notebook)
    own, injected = notebook.cells[1], notebook.cells[2]
    assert own.source == ('# Parameters (papermill overrides these)\nprofile = "tiny"  # tiny | embedded | msmarco\n'
                          'arch = "colbert"\nteacher = "T1"\nloss = "margin_mse"')
    assert injected.metadata.tags == ["injected-parameters", "remove-cell"]
    assert not bookext.hide_injected_parameters(notebook)  # idempotent
    # A parameter papermill injected that the notebook did not declare is shown too.
    extra = _executed_notebook()
    extra.cells[2].source += 'seed = 7\n'
    bookext.hide_injected_parameters(extra)
    assert extra.cells[1].source.endswith('loss = "margin_mse"\nseed = 7')
    # Without papermill's cell nothing changes.
    plain = _executed_notebook()
    del plain.cells[2]
    assert not bookext.hide_injected_parameters(plain)


def test_mathjax_ships_in_a_package():
    folder = bookext.mathjax_dir()
    assert (folder / bookext.MATHJAX_COMPONENT).is_file()
    assert list((folder / "output" / "chtml" / "fonts").rglob("*.woff"))


@pytest.fixture(scope="module")
def built_book(tmp_path_factory):
    root = tmp_path_factory.mktemp("offline-book")
    shutil.copy(ROOT / "_config.yml", root / "_config.yml")
    (root / "_toc.yml").write_text(TOC)
    (root / "book" / "generated" / "distillation").mkdir(parents=True)
    shutil.copy(ROOT / "book" / "references.bib", root / "book" / "references.bib")
    (root / "book" / "math.md").write_text(MATH_PAGE)
    nbformat.write(_executed_notebook(), root / "book" / "generated" / "distillation" / "colbert__T1__margin_mse.ipynb")
    # jupyter-book runs in a subprocess: it must import this checkout's kdlib.book.bookext.
    previous = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), previous]))
    try:
        html = runner.build_book(root, quiet=True)
    finally:
        if previous is None:
            os.environ.pop("PYTHONPATH")
        else:
            os.environ["PYTHONPATH"] = previous
    return html


def _assets(page: str) -> list[str]:
    return re.findall(r'<script[^>]+src="([^"]+)"', page) + re.findall(r'<link[^>]+href="([^"]+)"', page)


def test_the_built_book_loads_mathjax_from_its_own_static_folder(built_book):
    assert (built_book / "_static" / "mathjax" / bookext.MATHJAX_COMPONENT).is_file()
    page = (built_book / "book" / "math.html").read_text()
    assert f'src="../_static/mathjax/{bookext.MATHJAX_COMPONENT}' in page
    assert "cdn.jsdelivr" not in page and r"\mathcal{L}" in page
    remote = [url for url in _assets(page) if "//" in url]
    assert remote == []


def test_an_executed_chapter_shows_one_parameters_cell_with_the_values_it_ran_with(built_book):
    page = (built_book / "book" / "generated" / "distillation" / "colbert__T1__margin_mse.html").read_text()
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert text.count("# Parameters") == 1
    assert 'profile = "tiny"  # tiny | embedded | msmarco\narch = "colbert"' in text and "bert_dot" not in text


def test_launch_buttons_open_the_committed_notebook(built_book):
    page = (built_book / "book" / "generated" / "distillation" / "colbert__T1__margin_mse.html").read_text()
    launch = [u for u in re.findall(r'href="([^"]+)"', page) if "mybinder" in u or "colab" in u]
    assert launch and all("notebooks/04_distillation.ipynb" in u for u in launch), launch
    assert not any("book/generated" in u for u in launch)


# -- headless Chromium ------------------------------------------------------------------------


def _chromium() -> str | None:
    for name in (os.environ.get("KDLIB_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


class DevTools:
    """Chrome DevTools protocol over ``--remote-debugging-pipe`` (fds 3 and 4): no port, no
    websocket library. Messages are JSON, each ended by a NUL byte."""

    def __init__(self, binary: str, profile_dir: Path) -> None:
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def wire_fds() -> None:  # in the child: its fd 3 reads commands, fd 4 writes replies
            commands, replies = os.dup(to_child_r), os.dup(from_child_w)  # neither can be 4, nor 3 after it
            os.dup2(commands, 3)
            os.dup2(replies, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        self.process = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
             f"--user-data-dir={profile_dir}", "--no-first-run", "--no-default-browser-check",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-extensions", "--disable-default-apps", "--disable-domain-reliability",
             "--metrics-recording-only", "--no-pings",
             # A safety net: were the page to ask for anything remote, it could not get it (the
             # request is still recorded, and the test fails on it).
             "--host-resolver-rules=MAP * ~NOTFOUND", "about:blank"],
            close_fds=False, preexec_fn=wire_fds,  # only fds 0-4 are inheritable
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def _read(self, deadline: float) -> dict:
        import select

        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_child], [], [], left)[0]:
                raise TimeoutError("no reply from Chromium")
            chunk = os.read(self._from_child, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except Exception:  # noqa: BLE001 - closing anyway
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_child)
        os.close(self._from_child)


@pytest.mark.skipif(_chromium() is None, reason="no Chromium (Debian: apt-get install chromium; `make browser`)")
def test_math_renders_in_a_headless_browser_without_network(built_book, tmp_path):
    browser = DevTools(_chromium(), tmp_path / "profile")
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        browser.send("Network.enable", session=session)
        browser.send("Page.enable", session=session)
        browser.send("Page.navigate", {"url": (built_book / "book" / "math.html").as_uri()}, session=session)
        # MathJax typesets after the page loads; wait for its output (at most 30 s).
        probe = ("[document.querySelectorAll('mjx-container').length, "
                 "document.querySelectorAll('mjx-container[display=\"true\"] mjx-math').length, "
                 "typeof MathJax === 'object' && !!MathJax.version && MathJax.version, "
                 "document.body.innerText.includes('\\\\mathcal')]")
        deadline = time.monotonic() + 30
        while True:
            value = browser.send("Runtime.evaluate", {"expression": probe, "returnByValue": True},
                                 session=session)["result"].get("value")
            if value and value[0] >= 3 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        requests = [e["params"]["request"]["url"] for e in browser.events
                    if e.get("method") == "Network.requestWillBeSent"]
    finally:
        browser.close()
    containers, display_math, version, raw_tex_left = value
    assert containers >= 3 and display_math == 1, value  # two inline formulas, one display formula
    assert str(version).startswith("3."), value
    assert not raw_tex_left, value
    assert any(u.split("?")[0].endswith(f"_static/mathjax/{bookext.MATHJAX_COMPONENT}") for u in requests), requests
    left_the_machine = [u for u in requests if not u.startswith(("file://", "data:", "blob:"))]
    assert left_the_machine == [], left_the_machine
