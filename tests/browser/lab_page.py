"""Driving a notebook in JupyterLab, and reading streamkit's widgets, from the page.

Lab itself is driven through ``window.jupyterapp`` (exposed by
``--LabApp.expose_app_in_browser``): its commands open, run and add cells
the way its menus do.  Cell text is typed with the keyboard.  Everything a
test asserts is read from the DOM: cell prompts and outputs, and the
``data-*`` attributes of the widgets' figures and tables (their contract is
in ``streamkit/jupyter/widgets/figures.py``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

DASHBOARD = ".streamkit-dashboard"
PROMPT_DONE = re.compile(r"^\[(\d+)\]:$")

# The cell whose editor contains ``marker``; -1 when there is none.  CodeMirror
# renders one element per line, so a marker matches within one line only.
_FIND_CELL = """([marker]) => {
  const cells = document.querySelectorAll('.jp-Notebook .jp-Cell');
  for (let i = 0; i < cells.length; i++) {
    const editor = cells[i].querySelector('.jp-InputArea-editor .cm-content');
    if (editor && editor.textContent.includes(marker)) return i;
  }
  return -1;
}"""

_CELL = "document.querySelectorAll('.jp-Notebook .jp-Cell')[index]"

_CELL_STATE = f"""(index) => {{
  const cell = {_CELL};
  if (!cell) return null;
  const prompt = cell.querySelector('.jp-InputPrompt');
  const output = cell.querySelector('.jp-OutputArea');
  const editor = cell.querySelector('.jp-InputArea-editor .cm-content');
  return {{
    prompt: prompt ? prompt.textContent.trim() : '',
    output: output ? output.innerText : '',
    source: editor ? Array.from(editor.querySelectorAll('.cm-line'),
                                line => line.textContent).join('\\n') : '',
  }};
}}"""

_FIGURE = """(root, [owner, name]) => {
  const figure = Array.from(root.querySelectorAll('.streamkit-figure'))
    .find(el => el.dataset.owner === owner && el.dataset.figure === name);
  return figure ? figure.dataset.value : null;
}"""

_TABLE_ROWS = """(root, name) => {
  const table = Array.from(root.querySelectorAll('table.streamkit-table-rows'))
    .find(el => el.dataset.table === name);
  if (!table) return null;
  const rows = {};
  for (const row of table.querySelectorAll('tbody tr')) {
    const key = row.querySelector('th');
    const cell = row.querySelector('td');
    if (key && cell) rows[key.textContent.trim()] = cell.textContent.trim();
  }
  return rows;
}"""

# How far each buffer bar is drawn, in percent of its width, as the widget
# manager sets it on the bar element.
_BUFFER_FILLS = """(root) => Array.from(
  root.querySelectorAll('.streamkit-buffer .progress-bar'),
  bar => parseFloat(bar.style.width) || 0)"""


def poll(
    read: Callable[[], T],
    accept: Callable[[T], bool],
    *,
    timeout: float,
    expected: str,
    interval: float = 0.25,
) -> T:
    """Call ``read`` until ``accept`` takes its value; returns that value.

    Raises AssertionError naming ``expected`` and the last value seen when
    ``timeout`` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if accept(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"expected {expected} within {timeout:.0f}s; last seen: {value!r}"
            )
        time.sleep(interval)


def number(text: str | None) -> float | None:
    """A figure's ``data-value`` or a table cell as a number (None if blank)."""
    if text is None or not text.strip():
        return None
    return float(text.replace(",", ""))


class LabNotebook:
    """One notebook open in JupyterLab, in a playwright ``Page``."""

    def __init__(self, page: Any, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    # -- lab and the kernel ---------------------------------------------------

    def open(self, name: str, *, timeout: float = 90.0) -> None:
        """Open ``name`` and wait until its kernel is started and idle."""
        page = self.page
        page.goto(f"{self.base_url}/lab/tree/{name}", timeout=timeout * 1000)
        page.wait_for_function(
            """(name) => {
              const widget = window.jupyterapp?.shell?.currentWidget;
              return widget?.context?.path === name && !!widget.sessionContext;
            }""",
            arg=name,
            timeout=timeout * 1000,
        )
        page.evaluate(
            """async () => {
              const widget = window.jupyterapp.shell.currentWidget;
              await widget.context.ready;
              await widget.sessionContext.ready;
            }"""
        )
        poll(
            self.kernel_status,
            lambda status: status == "idle",
            timeout=timeout,
            expected="the notebook's kernel to be idle",
        )

    def kernel_status(self) -> str | None:
        return self.page.evaluate(
            """() => window.jupyterapp.shell.currentWidget
                     ?.sessionContext?.session?.kernel?.status ?? null"""
        )

    def command(self, command_id: str, *, wait: bool = True) -> None:
        """Run a JupyterLab command (``notebook:run-all-cells``...).

        With ``wait=False`` this returns as soon as the command started:
        Lab's run commands settle only when their cells finished running.
        """
        if wait:
            self.page.evaluate(
                "(id) => window.jupyterapp.commands.execute(id)", command_id
            )
            return
        self.page.evaluate(
            """(id) => {
              window.jupyterapp.commands.execute(id).catch(
                error => console.error(`command ${id} failed`, error));
            }""",
            command_id,
        )

    # -- cells ----------------------------------------------------------------

    def cell_count(self) -> int:
        return self.page.locator(".jp-Notebook .jp-Cell").count()

    def find_cell(self, marker: str) -> int:
        """The index of the first cell whose source contains ``marker``."""
        index = self.page.evaluate(_FIND_CELL, [marker])
        assert index >= 0, f"no cell of the notebook contains {marker!r}"
        return index

    def cell(self, index: int) -> dict[str, str]:
        """A cell as shown: ``prompt`` (``[3]:``, ``[*]:``), ``output``, ``source``."""
        state = self.page.evaluate(_CELL_STATE, index)
        assert state is not None, f"the notebook has no cell {index}"
        return state

    def wait_for_output(self, index: int, text: str, *, timeout: float) -> str:
        """Wait until cell ``index`` has run and its output contains ``text``."""
        state = poll(
            lambda: self.cell(index),
            lambda cell: text in cell["output"] or _failed(cell),
            timeout=timeout,
            expected=f"cell {index} to output {text!r}",
            interval=0.5,
        )
        assert not _failed(state), (
            f"cell {index} failed instead of outputting {text!r}:\n{state['output']}"
        )
        return state["output"]

    def wait_until_idle(self, *, timeout: float) -> None:
        """Wait until no cell is queued or running and the kernel is idle."""
        poll(
            lambda: (self.kernel_status(), self._busy_prompts()),
            lambda seen: seen == ("idle", []),
            timeout=timeout,
            expected="an idle kernel and no cell shown as [*]",
            interval=0.5,
        )

    def _busy_prompts(self) -> list[int]:
        prompts = self.page.locator(".jp-Notebook .jp-Cell .jp-InputPrompt")
        texts = prompts.all_text_contents()
        return [i for i, text in enumerate(texts) if "*" in text]

    def select(self, index: int) -> None:
        """Make cell ``index`` the active cell, in command mode."""
        self.page.evaluate(
            """(index) => {
              const notebook = window.jupyterapp.shell.currentWidget.content;
              notebook.mode = 'command';
              notebook.activeCellIndex = index;
            }""",
            index,
        )

    def type_source(self, index: int, source: str) -> None:
        """Replace cell ``index``'s text by typing, as a person pasting would.

        Typed newlines are auto-indented by CodeMirror, so the text goes in
        as one insertion; the editor is then checked to show exactly it.
        """
        self.select(index)
        editor = self.cell_locator(index).locator(".jp-InputArea-editor .cm-content")
        editor.scroll_into_view_if_needed()
        editor.click()
        self.page.keyboard.press("ControlOrMeta+a")
        self.page.keyboard.insert_text(source)
        poll(
            lambda: self.cell(index)["source"],
            lambda shown: shown == source,
            timeout=10,
            expected=f"cell {index}'s editor to show the typed source {source!r}",
        )

    def run_cell(self, index: int, *, timeout: float) -> dict[str, str]:
        """Run cell ``index`` (Ctrl+Enter in its editor) and wait until it is
        done; returns the cell as shown.  Fails when the cell raised."""
        before = self.cell(index)["prompt"]
        self.cell_locator(index).locator(".jp-InputArea-editor .cm-content").click()
        self.page.keyboard.press("ControlOrMeta+Enter")
        state = poll(
            lambda: self.cell(index),
            lambda cell: (
                PROMPT_DONE.match(cell["prompt"]) is not None
                and cell["prompt"] != before
            ),
            timeout=timeout,
            expected=f"cell {index} to run (its prompt was {before!r})",
            interval=0.2,
        )
        assert not _failed(state), f"cell {index} raised:\n{state['output']}"
        return state

    def append_cell(self, source: str) -> int:
        """Add a code cell at the end with ``source``; returns its index."""
        self.select(self.cell_count() - 1)
        self.command("notebook:insert-cell-below")
        index = self.cell_count() - 1
        self.type_source(index, source)
        return index

    def cell_locator(self, index: int) -> Any:
        """The playwright Locator of cell ``index``."""
        return self.page.locator(".jp-Notebook .jp-Cell").nth(index)

    def widget(self, index: int, selector: str = DASHBOARD) -> Widget:
        """The widget matching ``selector`` in cell ``index``'s output."""
        return Widget(self.cell_locator(index).locator(selector).first)


class Widget:
    """Reads one displayed streamkit widget (see the module docstring)."""

    def __init__(self, root: Any) -> None:
        self.root = root

    def shown(self) -> bool:
        return self.root.count() > 0

    def figure(self, owner: str, name: str) -> float | None:
        """The raw value of a figure (``data-value``); None when it is not
        shown or not known yet."""
        if not self.shown():
            return None
        return number(self.root.evaluate(_FIGURE, [owner, name]))

    def table_rows(self, table: str) -> dict[str, float | None]:
        """A table view's rows: the key and its first column ({} if not shown)."""
        rows = self.root.evaluate(_TABLE_ROWS, table) if self.shown() else None
        return {key: number(value) for key, value in (rows or {}).items()}

    def buffer_fills(self) -> list[float]:
        """How full each agent's buffer bar is drawn, in percent."""
        return self.root.evaluate(_BUFFER_FILLS) if self.shown() else []

    def count(self, selector: str) -> int:
        """How many elements inside the widget match ``selector``."""
        return self.root.locator(selector).count()

    def attribute(self, selector: str, name: str) -> str | None:
        """Attribute ``name`` of the first element matching ``selector``."""
        found = self.root.locator(selector)
        return found.first.get_attribute(name) if found.count() else None

    def scroll_into_view(self) -> None:
        self.root.scroll_into_view_if_needed()


def _failed(cell: dict[str, str]) -> bool:
    return "Traceback" in cell["output"] or "Error:" in cell["output"]
