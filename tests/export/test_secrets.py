"""Secrets stay in the notebook: URL user-info is left out, literal passwords refused.

The module is a file people commit and deploy; the project's standard is
that passwords and URL user-info never appear in exports.
"""

from __future__ import annotations

import json

import nbformat
import pytest
from click.testing import CliRunner

from streamkit.cli import cli
from streamkit.export import ExportError, cells_from_sources, compile_cells

from .builders import SETUP, cell, export, notebook, top_level
from .test_module import run_python

PASSWORD = "s3cr3tPW"
USER = "alice"
SECRET_APP = (
    "import streamkit\n"
    f'app = streamkit.App("sec2", broker="kafka://{USER}:{PASSWORD}@127.0.0.1:1")'
)
HINT = (
    "the user-info of kafka://127.0.0.1:1 was left out of the module; give it "
    "to the worker in the environment: "
    "STREAMKIT_BROKER=kafka://USER:PASSWORD@127.0.0.1:1 streamkit -A {module} worker"
)


def test_the_app_broker_loses_its_user_info_and_the_cell_says_how_to_give_it(
    tmp_path,
):
    module = export(tmp_path, SECRET_APP, name="sec2_worker")

    assert top_level(module.code)[0] == (
        "app = streamkit.App('sec2', broker='kafka://127.0.0.1:1')"
    )
    # The rest of the line as written: quotes and spacing kept.
    assert 'broker="kafka://127.0.0.1:1")\n' in module.code
    assert PASSWORD not in module.code
    assert USER not in module.code
    assert module.cells[0].what == "code"
    assert module.cells[0].warnings == [HINT.format(module="sec2_worker")]


def test_user_info_leaves_every_kind_of_literal_and_comment(tmp_path):
    module = export(
        tmp_path,
        SETUP,
        f"# was kafka://{USER}:{PASSWORD}@old:9092\n"
        "brokers = [\n"
        f'    "kafka://{USER}:{PASSWORD}@h1:9092;h2:9092",\n'
        f'    "kafka://{USER}:pa%2Fss@h3:9092,h4:9092",\n'
        f'    "kafka://{USER}:{PASSWORD[:4]}" "{PASSWORD[4:]}@h5:9092",\n'
        f'    f"kafka://{USER}:{PASSWORD}@{{app.id}}:9092",\n'
        f'    "https://{USER}:{PASSWORD}@example.com/path",\n'
        '    "https://example.com/@name",\n'
        "]\n",
    )

    assert "# was kafka://old:9092\n" in module.code
    assert top_level(module.code)[1] == (
        "brokers = ['kafka://h1:9092;h2:9092', 'kafka://h3:9092,h4:9092', "
        "'kafka://h5:9092', f'kafka://{app.id}:9092', "
        "'https://example.com/path', 'https://example.com/@name']"
    )
    assert PASSWORD not in module.code
    assert PASSWORD[4:] not in module.code
    assert USER not in module.code
    assert module.cells[1].warnings == [
        "the user-info of kafka://h1:9092;h2:9092 was left out of the module; "
        "give it to the worker in the environment: "
        "STREAMKIT_BROKER='kafka://USER:PASSWORD@h1:9092;h2:9092' "
        "streamkit -A exported_mod worker",
        "the user-info of kafka://h3:9092,h4:9092 was left out of the module; "
        "give it to the worker in the environment: "
        "STREAMKIT_BROKER=kafka://USER:PASSWORD@h3:9092,h4:9092 "
        "streamkit -A exported_mod worker",
        "the user-info of kafka://h5:9092 was left out of the module; "
        "give it to the worker in the environment: "
        "STREAMKIT_BROKER=kafka://USER:PASSWORD@h5:9092 "
        "streamkit -A exported_mod worker",
        "the user-info of kafka:// was left out of the module; "
        "give it to the worker in the environment: "
        "STREAMKIT_BROKER=kafka://USER:PASSWORD@HOST:9092 "
        "streamkit -A exported_mod worker",
        "the user-info of https://example.com/path was left out of the module; "
        'read it from the environment in the notebook (os.environ["NAME"]) so '
        "the module reads it too",
    ]
    compile(module.code, "exported_mod.py", "exec")


def test_user_info_leaves_handler_bodies_and_the_lines_a_reason_quotes(tmp_path):
    module = export(
        tmp_path,
        f"%env STREAMKIT_BROKER=kafka://{USER}:{PASSWORD}@h:9092",
        SETUP,
        "%%agent orders\n"
        "async def forward(stream):\n"
        '    """Copies to kafka://other:9092."""\n'
        "    async for value in stream:\n"
        f'        print("kafka://{USER}:{PASSWORD}@other:9092", value)\n',
    )

    assert (
        module.cells[0].what == "notebook only (%env STREAMKIT_BROKER=kafka://h:9092)"
    )
    assert "print('kafka://other:9092', value)" in "\n".join(top_level(module.code))
    assert "@app.agent('orders')" in "\n".join(top_level(module.code))
    assert PASSWORD not in module.code
    assert USER not in module.code
    assert module.cells[2].warnings == [
        "the user-info of kafka://other:9092 was left out of the module; give it "
        "to the worker in the environment: "
        "STREAMKIT_BROKER=kafka://USER:PASSWORD@other:9092 "
        "streamkit -A exported_mod worker"
    ]


def test_the_exported_module_gets_the_user_info_from_the_environment(tmp_path):
    module = export(tmp_path, SECRET_APP, name="sec2_worker")
    (tmp_path / "sec2_worker.py").write_text(module.code)
    probe = (
        "import os, sys\n"
        "if len(sys.argv) > 1:\n"
        "    os.environ['STREAMKIT_BROKER'] = sys.argv[1]\n"
        "import sec2_worker\n"
        "conf = sec2_worker.app.conf\n"
        "creds = conf.broker_credentials\n"
        "print(conf.broker, creds and (creds.username, creds.password))\n"
    )

    alone = run_python(probe, tmp_path)
    given = run_python(probe, tmp_path, f"kafka://bob:{PASSWORD}@127.0.0.1:1")

    assert alone.returncode == 0, alone.stderr
    assert alone.stdout.strip() == "kafka://127.0.0.1:1 None"
    assert given.returncode == 0, given.stderr
    assert given.stdout.strip() == f"kafka://127.0.0.1:1 ('bob', '{PASSWORD}')"


def test_the_export_command_reports_the_user_info_without_showing_it(tmp_path):
    path = tmp_path / "sec2.ipynb"
    nbformat.write(notebook(SECRET_APP), path)
    target = tmp_path / "sec2_worker.py"

    table = CliRunner().invoke(cli, ["export", str(path), "-o", str(target)])
    as_json = CliRunner().invoke(
        cli, ["export", str(path), "-o", str(target), "--json"]
    )
    to_stdout = CliRunner().invoke(cli, ["export", str(path)])

    assert table.exit_code == 0, table.output
    shown = " ".join(table.output.replace("│", " ").split())
    assert "STREAMKIT_BROKER=kafka://USER:PASSWORD@127.0.0.1:1" in shown
    assert "-A sec2_worker worker" in shown
    assert json.loads(as_json.output)["cells"][0]["warnings"] == [
        HINT.format(module="sec2_worker")
    ]
    assert f"cell 1: {HINT.format(module='MODULE')}" in to_stdout.stderr
    for result in (table, as_json, to_stdout):
        assert PASSWORD not in result.output
        assert USER not in result.output
    assert PASSWORD not in target.read_text()


@pytest.mark.parametrize(
    "keyword",
    [
        *("password", "sasl_plain_password", "ssl_password", "Secret", "api_key"),
        *("TOKEN", "access_token", "apikey", "passwd"),
    ],
)
def test_a_literal_secret_keyword_is_refused_naming_cell_line_and_keyword(
    tmp_path, keyword
):
    source = (
        "import streamkit\n\n"
        "creds = streamkit.SASLCredentials(\n"
        f'    username="u", {keyword}="{PASSWORD}"\n'
        ")\n"
    )

    with pytest.raises(ExportError) as info:
        export(tmp_path, SETUP, source)

    message = str(info.value)
    assert message.startswith(f"cell 2: line 4: {keyword}= is given as a string")
    assert "read the value from the environment in the notebook" in message
    assert f'{keyword}=os.environ["' in message
    assert PASSWORD not in message


def test_the_refusal_counts_handler_cell_lines_from_the_magic_line(tmp_path):
    with pytest.raises(ExportError) as info:
        export(
            tmp_path,
            SETUP,
            f'%%timer 5\nasync def tick():\n    login(password="{PASSWORD}")\n',
        )

    assert str(info.value).startswith("cell 2: line 3: password= ")
    assert 'password=os.environ["KAFKA_PASSWORD"]' in str(info.value)
    assert PASSWORD not in str(info.value)


def test_the_export_command_refuses_a_literal_password_and_writes_nothing(
    tmp_path,
):
    path = tmp_path / "pw.ipynb"
    nbformat.write(
        notebook(SETUP, f'creds = dict(sasl_plain_password="{PASSWORD}")'), path
    )
    target = tmp_path / "pw_worker.py"

    result = CliRunner().invoke(cli, ["export", str(path), "-o", str(target)])

    assert result.exit_code == 1
    assert "cell 2: line 1: sasl_plain_password=" in result.output
    assert PASSWORD not in result.output
    assert "Traceback" not in result.output
    assert not target.exists()


def test_the_kernel_history_is_refused_too(tmp_path):
    cells = cells_from_sources([(1, SETUP), (2, f'conn = connect(token="{PASSWORD}")')])

    with pytest.raises(ExportError, match="cell 2: line 1: token="):
        compile_cells(cells, source_name="history", strict=False)


def test_secrets_read_from_the_environment_or_left_out_are_exported(tmp_path):
    module = export(
        tmp_path,
        "import os\n" + SETUP,
        'creds = dict(password=os.environ["KAFKA_PASSWORD"], token="")',
        cell(f'creds = dict(password="{PASSWORD}")', "streamkit:skip"),
        f'dict(api_key="{PASSWORD}")\n',  # display only: dropped
    )

    assert "creds = dict(password=os.environ['KAFKA_PASSWORD'], token='')" in (
        top_level(module.code)
    )
    assert PASSWORD not in module.code
    assert all(not c.warnings for c in module.cells)


def test_names_that_only_contain_a_secret_word_are_not_secrets(tmp_path):
    module = export(
        tmp_path,
        SETUP,
        'split = dict(tokenizer="words", secretary="ann", passwords_seen="3")',
    )

    assert "tokenizer='words'" in "\n".join(top_level(module.code))


def test_a_literal_assigned_to_a_secret_environment_variable_is_refused(tmp_path):
    with pytest.raises(ExportError) as info:
        export(
            tmp_path,
            "import os\n" + SETUP,
            f'os.environ["KAFKA_PASSWORD"] = "{PASSWORD}"',
        )

    message = str(info.value)
    assert message.startswith("cell 2: line 1: ['KAFKA_PASSWORD'] is assigned")
    assert "set it outside the notebook" in message
    assert PASSWORD not in message


def test_a_secret_set_with_env_is_masked_in_the_reason_that_quotes_it(tmp_path):
    module = export(tmp_path, f"%env KAFKA_PASSWORD={PASSWORD}", SETUP)

    assert module.cells[0].what == "notebook only (%env KAFKA_PASSWORD=***)"
    assert PASSWORD not in module.code


def refusal(tmp_path, *cells) -> str:
    """The message of the export's refusal, which must not show the secret."""
    with pytest.raises(ExportError) as info:
        export(tmp_path, *cells)
    message = str(info.value)
    assert PASSWORD not in message
    return message


@pytest.mark.parametrize(
    ("source", "start"),
    [
        (
            f'creds = streamkit.SASLCredentials("alice", "{PASSWORD}")',
            "line 1: the password (argument 2 of SASLCredentials) is given as a "
            "string literal",
        ),
        (
            "from streamkit import SASLCredentials\n\n"
            "app.conf.broker_credentials = SASLCredentials(\n"
            f'    "alice", "{PASSWORD}"\n'
            ")",
            "line 4: the password (argument 2 of SASLCredentials)",
        ),
        (
            "import ssl\n\n"
            "def context():\n"
            "    ctx = ssl.create_default_context()\n"
            f'    ctx.load_cert_chain("c.pem", "k.pem", "{PASSWORD}")\n'
            "    return ctx\n",
            "line 5: the password (argument 3 of load_cert_chain)",
        ),
    ],
)
def test_a_literal_password_passed_by_position_is_refused(tmp_path, source, start):
    message = refusal(tmp_path, SETUP, source)

    assert message.startswith(f"cell 2: {start}")
    assert 'os.environ["' in message


@pytest.mark.parametrize(
    ("source", "line", "key"),
    [
        (f'conf = {{"password": "{PASSWORD}"}}', 1, "password"),
        (f'conf = {{"sasl_plain_password": "{PASSWORD}"}}', 1, "sasl_plain_password"),
        (f'conf = {{"sasl.password": "{PASSWORD}"}}', 1, "sasl.password"),
        (
            "creds = streamkit.SASLCredentials(\n"
            f'    **{{"username": "alice", "password": "{PASSWORD}"}}\n'
            ")",
            2,
            "password",
        ),
        (f'headers = {{"Authorization": "Bearer {PASSWORD}"}}', 1, "Authorization"),
    ],
)
def test_a_literal_under_a_secret_dict_key_is_refused(tmp_path, source, line, key):
    message = refusal(tmp_path, SETUP, source)

    assert message.startswith(f"cell 2: line {line}: the key {key!r} is given as")
    assert f"{{{key!r}: os.environ[" in message


@pytest.mark.parametrize(
    ("source", "start"),
    [
        (f'KAFKA_PASSWORD = "{PASSWORD}"', "line 1: KAFKA_PASSWORD is assigned"),
        (f'password: str = "{PASSWORD}"', "line 1: password is assigned"),
        (f'user, password = "alice", "{PASSWORD}"', "line 1: password is assigned"),
        (f'if (password := "{PASSWORD}"):\n    pass', "line 1: password is assigned"),
        (f'app.conf.sasl_password = "{PASSWORD}"', "line 1: app.conf.sasl_password"),
        (
            f'import os\n\nos.environ["SASL_PASSWORD"] += "{PASSWORD}"',
            "line 3: ['SASL_PASSWORD'] is assigned",
        ),
        (
            "import os\n\n"
            f'os.environ.setdefault("KAFKA_PASSWORD", "{PASSWORD}")\nready = 1',
            "line 3: the value for 'KAFKA_PASSWORD' in os.environ.setdefault()",
        ),
        (
            f'import os\n\npassword = os.getenv("KAFKA_PASSWORD", "{PASSWORD}")',
            "line 3: the default for 'KAFKA_PASSWORD' in os.getenv()",
        ),
        (
            f'def creds(user, password="{PASSWORD}"):\n    return user, password',
            "line 1: parameter password of creds() defaults to",
        ),
        (
            f'async def connect(*, token="{PASSWORD}", retries=3):\n    pass',
            "line 1: parameter token of connect() defaults to",
        ),
        (
            f'login = lambda api_key="{PASSWORD}": api_key',
            "line 1: parameter api_key of the lambda defaults to",
        ),
    ],
)
def test_a_literal_assigned_to_a_secret_name_is_refused(tmp_path, source, start):
    message = refusal(tmp_path, SETUP, source)

    assert message.startswith(f"cell 2: {start}")
    assert "a string literal, which the module would hold" in message


@pytest.mark.parametrize(
    "value",
    [
        f'"" + "{PASSWORD}"',
        f'f"{PASSWORD}"',
        f'f"{PASSWORD[:4]}{{suffix}}"',
        f'"%s" % "{PASSWORD}"',
        f'os.environ.get("KAFKA_PASSWORD") or "{PASSWORD}"',
    ],
)
def test_a_value_built_from_a_literal_is_refused(tmp_path, value):
    message = refusal(
        tmp_path, "import os\n" + SETUP, f"suffix = 1\ncreds = dict(password={value})"
    )

    assert message.startswith(
        "cell 2: line 2: password= is given as a value built from a string literal"
    )
    assert PASSWORD[:4] not in message


@pytest.mark.parametrize(
    "name",
    ["passwd", "passphrase", "pwd", "authorization", "KAFKA_PASS", "SASL_PASS"],
)
def test_every_secret_word_is_refused(tmp_path, name):
    message = refusal(tmp_path, SETUP, f'conn = dict({name}="{PASSWORD}")')

    assert message.startswith(f"cell 2: line 1: {name}= is given as")
    assert 'os.environ["PWD"]' not in message  # the shell's working directory


def test_pass_is_a_secret_only_as_a_names_last_word(tmp_path):
    module = export(
        tmp_path, SETUP, 'route = dict(pass_through="yes", bypass="cache", compass="n")'
    )

    assert "pass_through='yes'" in "\n".join(top_level(module.code))


@pytest.mark.parametrize(
    "source",
    [
        f'broker = "kafka://{{}}:{{}}@h:9092".format("{USER}", "{PASSWORD}")',
        f'broker = "kafka://%s:%s@h:9092" % ("{USER}", "{PASSWORD}")',
        f'broker = "kafka://%(user)s:%(pw)s@h:9092" % {{"pw": "{PASSWORD}"}}',
    ],
)
def test_a_url_template_with_user_info_is_refused(tmp_path, source):
    message = refusal(tmp_path, SETUP, source)

    assert message.startswith(
        "cell 2: line 1: the user-info of kafka://h:9092 is filled in by formatting"
    )
    assert "build the URL from os.environ" in message
    assert "broker_credentials=SASLCredentials(" in message
    assert USER not in message


def test_user_info_leaves_bytes_literals(tmp_path):
    module = export(
        tmp_path, SETUP, f'brokers = [b"kafka://{USER}:{PASSWORD}@h:9092", b"x@y"]'
    )

    assert top_level(module.code)[1] == "brokers = [b'kafka://h:9092', b'x@y']"
    assert PASSWORD not in module.code
    assert USER not in module.code
    assert module.cells[1].warnings == [
        "the user-info of kafka://h:9092 was left out of the module; give it to "
        "the worker in the environment: "
        "STREAMKIT_BROKER=kafka://USER:PASSWORD@h:9092 streamkit -A exported_mod worker"
    ]


@pytest.mark.parametrize("quote", ['"', "'"])
def test_a_quoted_secret_in_a_reason_is_masked_whole(tmp_path, quote):
    module = export(
        tmp_path,
        f"%env KAFKA_PASSWORD={quote}{PASSWORD} and more{quote}\n"
        f"%env SASL_PASS {quote}{PASSWORD} too{quote}",
        SETUP,
    )

    assert module.cells[0].what == (
        "notebook only (%env KAFKA_PASSWORD=***, %env SASL_PASS ***)"
    )
    assert PASSWORD not in module.code
    assert "more" not in module.code
    assert "too" not in module.code


def test_secrets_read_from_the_environment_are_exported_in_every_form(tmp_path):
    source = (
        'creds = streamkit.SASLCredentials("alice", os.environ["KAFKA_PASSWORD"])\n'
        'conf = {"sasl.password": os.environ["KAFKA_PASSWORD"], "password": ""}\n'
        'KAFKA_PASSWORD = os.environ.get("KAFKA_PASSWORD", "")\n'
        "def login(password=None, *, token=os.environ.get('TOKEN')):\n"
        "    return password, token\n"
        "broker = f\"kafka://{os.environ['KAFKA_USER']}:{KAFKA_PASSWORD}@h:9092\"\n"
    )

    module = export(tmp_path, "import os\n" + SETUP, source)

    assert len(top_level(module.code)) == 7  # the App, the five, app.main()
    assert all(not c.warnings for c in module.cells)


def test_a_cell_kept_for_its_effect_is_refused_too(tmp_path):
    # Not a display: the worker needs the call, so the secret would be there.
    message = refusal(
        tmp_path,
        "import os\n" + SETUP,
        f'os.environ.setdefault("KAFKA_PASSWORD", "{PASSWORD}")',
    )

    assert message.startswith(
        "cell 2: line 1: the value for 'KAFKA_PASSWORD' in os.environ.setdefault()"
    )
