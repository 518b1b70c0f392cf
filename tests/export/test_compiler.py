"""The notebook compiler on small notebooks: what each kind of cell becomes.

Each test builds a notebook with nbformat, exports it, and reads the module
back with ``ast``: the assertions are on decorators, function bodies and
top-level statements, not on formatting.
"""

from __future__ import annotations

import ast

import pytest

from streamkit.export import EXPORT_TAG, SKIP_TAG, ExportError

from .builders import (
    SETUP,
    body,
    cell,
    decorators,
    export,
    functions,
    imports,
    ruff,
    top_level,
)

AGENT_BODY = """\
async def count(stream):
    async for value in stream:
        print(value)
"""


def test_agent_cell_becomes_agent_on_the_topic_name_with_its_options(tmp_path):
    module = export(
        tmp_path,
        SETUP,
        "%%agent orders --concurrency 2 --name counter\n" + AGENT_BODY,
    )

    assert decorators(module.code, "count") == [
        "app.agent('orders', name='counter', concurrency=2)"
    ]
    assert body(module.code, "count") == "async for value in stream:\n    print(value)"
    assert module.agents == ["counter"]


def test_agent_on_a_topic_variable_uses_the_variable(tmp_path):
    module = export(
        tmp_path,
        SETUP + 'orders = app.topic("orders-v1", value_type=dict)\n',
        "%%agent orders\n" + AGENT_BODY,
    )

    assert decorators(module.code, "count") == ["app.agent(orders)"]


def test_agent_on_a_name_that_is_no_topic_variable_uses_the_name(tmp_path):
    # The magic looks for a variable holding a Topic first: a list is not one,
    # and neither is a topic variable assigned only after the agent cell.
    module = export(
        tmp_path,
        SETUP + "orders = []\n",
        "%%agent orders\n" + AGENT_BODY,
        "%%agent later\nasync def other(stream):\n    pass\n",
        'later = app.topic("later-topic")',
    )

    assert decorators(module.code, "count") == ["app.agent('orders')"]
    assert decorators(module.code, "other") == ["app.agent('later')"]


def test_agent_without_topic_gets_an_anonymous_topic(tmp_path):
    module = export(tmp_path, SETUP, "%%agent\n" + AGENT_BODY)

    assert decorators(module.code, "count") == ["app.agent()"]


def test_timer_cell_becomes_app_timer(tmp_path):
    module = export(
        tmp_path,
        SETUP,
        "%%timer 5 --name tick\nasync def report():\n    print('tick')\n",
        "%%timer 0.25\nasync def fast():\n    pass\n",
    )

    assert decorators(module.code, "report") == ["app.timer(5, name='tick')"]
    assert decorators(module.code, "fast") == ["app.timer(0.25)"]
    assert module.timers == ["tick", "fast"]


def test_app_option_decorates_with_that_app_and_main_runs_app(tmp_path):
    module = export(
        tmp_path,
        SETUP + 'other = streamkit.App("other")\n',
        "%%agent orders --app other\n" + AGENT_BODY,
        "%%timer 1\nasync def tick():\n    pass\n",
    )

    assert decorators(module.code, "count") == ["other.agent('orders')"]
    assert decorators(module.code, "tick") == ["app.timer(1)"]
    assert top_level(module.code)[-1] == "if __name__ == '__main__':\n    app.main()"


def test_the_only_app_is_used_whatever_its_name(tmp_path):
    module = export(
        tmp_path,
        'import streamkit\nmy_app = streamkit.App("named")\n',
        "%%agent t\n" + AGENT_BODY,
        "await asyncio.sleep(0)",
        "import asyncio",
    )

    assert decorators(module.code, "count") == ["my_app.agent('t')"]
    assert decorators(module.code, "cell_3") == ["my_app.task"]
    assert top_level(module.code)[-1].endswith("my_app.main()")


def test_redefined_handler_keeps_its_last_definition(tmp_path):
    module = export(
        tmp_path,
        SETUP,
        "%%agent orders\n" + AGENT_BODY,
        "counts = {}",
        "%%agent orders --concurrency 3\n"
        "async def count(stream):\n"
        "    async for value in stream:\n"
        "        counts[value] = counts.get(value, 0) + 1\n",
    )

    tree = ast.parse(module.code)
    defs = [n for n in tree.body if isinstance(n, ast.AsyncFunctionDef)]
    assert [d.name for d in defs] == ["count"]
    assert decorators(module.code, "count") == ["app.agent('orders', concurrency=3)"]
    assert "counts[value]" in body(module.code, "count")
    # Where the last definition was: after the cell defining `counts`.
    assert top_level(module.code).index("counts = {}") < len(top_level(module.code))
    assert module.code.index("counts = {}") < module.code.index("async def count")
    assert "cell 2 not exported: redefined in cell 4" in module.code


def test_redefined_plain_function_keeps_its_last_definition(tmp_path):
    module = export(
        tmp_path,
        SETUP + "def double(x):\n    return x * 2\n",
        "def double(x):\n    return x + x\n",
    )

    assert body(module.code, "double") == "return x + x"
    assert module.code.count("def double") == 1


def test_two_handlers_sharing_a_function_name_are_both_kept(tmp_path):
    # Different --name: two agents, as in the notebook.
    module = export(
        tmp_path,
        SETUP,
        "%%agent a --name first\n" + AGENT_BODY,
        "%%agent b --name second\n" + AGENT_BODY,
    )

    assert module.agents == ["first", "second"]
    assert module.code.count("async def count(stream)") == 2
    compile(module.code, "exported", "exec")


def test_notebook_only_lines_and_cells_are_dropped(tmp_path):
    module = export(
        tmp_path,
        "%load_ext streamkit",
        SETUP + "%streamkit start\n!pip install nothing\napp?\n",
        "await app.start()",
        "%%bash\necho hi\n",
        "%streamkit status",
        "display(app)",
        "%%agent t\n" + AGENT_BODY,
        "await app.stop()",
    )

    statements = top_level(module.code)
    assert statements[0] == "app = streamkit.App('exported')"
    assert len(statements) == 3  # app, the agent, the __main__ block
    code = [line for line in module.code.splitlines() if not line.startswith("#")]
    assert not [line for line in code if line.startswith(("%", "!", "app?"))]
    reasons = {c.number: c.what for c in module.cells if not c.kept}
    assert reasons == {
        1: "notebook only (%load_ext streamkit)",
        3: "notebook only (the worker starts the App)",
        4: "%%bash cell (notebook only)",
        5: "notebook only (%streamkit status)",
        6: "notebook only (display())",
        8: "notebook only (the worker stops the App)",
    }


def test_a_percent_line_that_continues_python_is_python(tmp_path):
    module = export(
        tmp_path,
        SETUP + 'label = ("%s-%s"\n    % ("a", "b"))\n',
        "%%agent t\nasync def show(stream):\n    print(label)\n",
    )

    assert "label = '%s-%s' % ('a', 'b')" in top_level(module.code)


def test_display_cells_are_dropped_unless_kept_code_needs_them(tmp_path):
    module = export(
        tmp_path,
        SETUP,
        "app",
        'counts = app.Table("counts", default=int)\ncounts.as_dataframe()',
        "counts.as_dataframe()",
        'frame = counts.as_dataframe()\nframe["x"] = 1\nframe',
        "%%agent t\n"
        "async def count(stream):\n"
        "    async for value in stream:\n"
        "        counts[value] += 1\n",
    )

    statements = top_level(module.code)
    assert "counts = app.Table('counts', default=int)" in statements
    # The call displayed after the table in the same cell stays: it may act.
    assert "counts.as_dataframe()" in statements
    assert not any(s.startswith("frame") for s in statements)
    assert "app" not in statements
    reasons = {c.number: c.what for c in module.cells if not c.kept}
    assert reasons == {
        2: "display only",
        4: "display only",
        5: "display only (defines nothing exported code uses)",
    }


def test_a_cell_ending_with_a_call_into_an_imported_module_is_kept(tmp_path):
    # Its effect (logging set up, an environment default) is the point.
    module = export(
        tmp_path,
        SETUP,
        "import logging\nlogging.basicConfig(level=logging.INFO)",
        "import os\nos.environ.setdefault('REGION', 'eu')",
        "import warnings\nwarnings.filterwarnings('ignore')",
        "from logging import captureWarnings\nlimit = 3\ncaptureWarnings(True)",
        'logging.getLogger("streamkit").setLevel("DEBUG")',
    )

    statements = top_level(module.code)
    assert statements[1:-1] == [
        "logging.basicConfig(level=logging.INFO)",
        "os.environ.setdefault('REGION', 'eu')",
        "warnings.filterwarnings('ignore')",
        "limit = 3",
        "captureWarnings(True)",
        "logging.getLogger('streamkit').setLevel('DEBUG')",
    ]
    assert all(c.kept for c in module.cells)
    assert imports(module.code) == [
        "import logging",
        "import os",
        "import warnings",
        "from logging import captureWarnings",
        "import streamkit",
    ]


def test_a_cell_ending_with_an_expression_over_notebook_values_only_displays(
    tmp_path,
):
    module = export(
        tmp_path,
        SETUP + 'counts = app.Table("counts", default=int)\n',
        "counts.as_dataframe()",
        "import pandas as pd\ndf = pd.DataFrame({'x': [1]})\ndf.head()",
        "df",
        "print(counts)",
        "from IPython.display import Markdown\nMarkdown('**counts**')",
    )

    assert len(top_level(module.code)) == 3  # the App, the table, app.main()
    reasons = {c.number: c.what for c in module.cells if not c.kept}
    assert reasons == {
        2: "display only",
        3: "display only (defines nothing exported code uses)",
        4: "display only",
        5: "display only",
        6: "display only",
    }


def test_the_app_cell_is_kept_even_when_it_ends_with_a_display(tmp_path):
    module = export(tmp_path, SETUP + "app", "%%time\nsteps = 1\n")

    assert top_level(module.code) == [
        "app = streamkit.App('exported')",
        "steps = 1",
        "if __name__ == '__main__':\n    app.main()",
    ]


def test_top_level_await_becomes_a_task_with_globals_for_shared_names(tmp_path):
    module = export(
        tmp_path,
        SETUP + 'numbers = app.topic("numbers")\n',
        "import asyncio\n"
        "values = list(range(10))\n"
        "for value in values:\n"
        "    await numbers.send(value=value)\n"
        "sent = len(values)\n"
        "await asyncio.sleep(0.1)\n"
        'f"{sent} sent"',
        "%%timer 1\nasync def report():\n    print(sent)\n",
    )

    task = functions(module.code)["cell_2"]
    assert isinstance(task, ast.AsyncFunctionDef)
    assert decorators(module.code, "cell_2") == ["app.task"]
    assert body(module.code, "cell_2") == (
        "global sent\n"
        "values = list(range(10))\n"
        "for value in values:\n"
        "    await numbers.send(value=value)\n"
        "sent = len(values)\n"
        "await asyncio.sleep(0.1)"
    )
    assert module.tasks == ["cell_2"]
    assert "import asyncio" in imports(module.code)


def test_definitions_import_time_code_needs_stay_at_module_level(tmp_path):
    module = export(
        tmp_path,
        SETUP,
        'orders = app.topic("orders")\n'
        "def make(i):\n"
        "    return {'id': i}\n"
        "await orders.send(value=make(1))\n",
        "%%agent orders\n" + AGENT_BODY,
    )

    statements = top_level(module.code)
    assert "orders = app.topic('orders')" in statements
    assert "make" in functions(module.code)
    assert body(module.code, "cell_2") == "await orders.send(value=make(1))"
    assert decorators(module.code, "count") == ["app.agent(orders)"]


def test_a_name_needed_at_import_but_assigned_after_an_await_is_an_error(tmp_path):
    with pytest.raises(ExportError, match="cell 2 assigns orders after a top-level"):
        export(
            tmp_path,
            SETUP,
            'await app.topic("x").send(value=1)\norders = app.topic("orders")\n',
            "%%agent orders\n" + AGENT_BODY,
        )


def test_a_multiline_string_in_a_task_keeps_its_value(tmp_path):
    module = export(
        tmp_path,
        SETUP + 'notes = app.topic("notes")\n',
        'await notes.send(value="""first\nsecond\n""")',
    )

    task = functions(module.code)["cell_2"]
    sent = task.body[0].value.value.keywords[0].value  # type: ignore[attr-defined]
    assert sent.value == "first\nsecond\n"


def test_imports_from_any_cell_are_kept_when_used_and_only_then(tmp_path):
    module = export(
        tmp_path,
        SETUP,
        "import json\nimport math\nfrom IPython.display import Markdown\n"
        "Markdown(json.dumps({'pi': math.pi}))",
        "%%agent t\n"
        "import statistics\n"
        "async def mean(stream):\n"
        "    async for values in stream:\n"
        "        print(statistics.mean(values), math.floor(values[0]))\n",
    )

    assert imports(module.code) == [
        "import math",
        "import statistics",
        "import streamkit",
    ]


def test_a_from_import_of_the_standard_library_sorts_with_it(tmp_path):
    module = export(
        tmp_path,
        "from collections import Counter\n" + SETUP,
        "%%agent t\n"
        "async def count(stream):\n"
        "    seen = Counter()\n"
        "    async for value in stream:\n"
        "        seen[value] += 1\n",
    )
    path = tmp_path / "exported_mod.py"
    path.write_text(module.code)

    assert imports(module.code) == [
        "from collections import Counter",
        "import streamkit",
    ]
    assert ruff(path) == []


def test_kept_code_that_needs_ipython_is_an_error(tmp_path):
    with pytest.raises(ExportError, match="uses 'HTML', imported from IPython.display"):
        export(
            tmp_path,
            SETUP + "from IPython.display import HTML\n",
            "%%agent t\nasync def show(stream):\n    print(HTML('x'))\n",
        )
    with pytest.raises(ExportError, match="cell 2 uses get_ipython"):
        export(
            tmp_path,
            SETUP,
            "%%timer 1\nasync def tick():\n    print(get_ipython())\n",
        )


def test_tags_skip_a_cell_or_keep_a_display_cell(tmp_path):
    module = export(
        tmp_path,
        SETUP,
        cell("debug = True", SKIP_TAG),
        cell('import logging\nlogging.getLogger("x").setLevel("INFO")', EXPORT_TAG),
        cell("print('only in the notebook')"),
    )

    statements = top_level(module.code)
    assert "debug = True" not in statements
    assert "logging.getLogger('x').setLevel('INFO')" in statements
    assert "print('only in the notebook')" not in statements
    assert module.cells[1].what == f"tag {SKIP_TAG}"


def test_settings_assigned_in_code_yield_to_the_environment(tmp_path):
    module = export(
        tmp_path,
        'import os\nimport streamkit\napp = streamkit.App("x", broker="memory://")\n',
        'app.conf.broker = "kafka://localhost:9092"\n'
        'os.environ["STREAMKIT_DEBUG"] = "true"\n',
    )

    statements = top_level(module.code)
    # The constructor is left as written: STREAMKIT_BROKER overrides it.
    assert statements[0] == "app = streamkit.App('x', broker='memory://')"
    assert statements[1] == (
        "if 'STREAMKIT_BROKER' not in os.environ:\n"
        "    app.conf.broker = 'kafka://localhost:9092'"
    )
    assert statements[2] == "os.environ.setdefault('STREAMKIT_DEBUG', 'true')"
    assert "import os" in imports(module.code)


def test_a_cell_that_does_not_compile_names_the_cell(tmp_path):
    with pytest.raises(ExportError, match="cell 2: line 1: .*tag the cell"):
        export(tmp_path, SETUP, "def broken(:\n    pass")
    with pytest.raises(ExportError, match="cell 2: %%agent: .* defines 2"):
        export(
            tmp_path,
            SETUP,
            "%%agent t\nasync def a(stream):\n    pass\nasync def b(stream):\n    pass",
        )
    with pytest.raises(ExportError, match="cell 2: %%agent --concurrency 0"):
        export(tmp_path, SETUP, "%%agent --concurrency 0\n" + AGENT_BODY)
    with pytest.raises(ExportError, match="no cell creates a streamkit.App"):
        export(tmp_path, "%%agent t\n" + AGENT_BODY)


def test_sections_name_their_cells(tmp_path):
    module = export(
        tmp_path, SETUP, "app", "%%agent orders --concurrency 2\n" + AGENT_BODY
    )

    assert "# %% cell 1\n" in module.code
    assert "# cell 2 not exported: display only\n" in module.code
    assert "# %% cell 3: %%agent orders --concurrency 2\n@app.agent(" in module.code
