"""@app.page views over real HTTP: function and class views, parameters,
bodies, errors."""

from __future__ import annotations

import logging

import pytest

from streamkit.exceptions import ConfigurationError
from streamkit.web import View

from .conftest import url_of


async def test_seed_page_answers_empty_200_and_sees_the_query(make_app, http, capsys):
    app = make_app()

    # The seed's sample, unchanged.
    @app.page("/path/to/view/")
    async def myview(web, request):
        print(f"FOO PARAM: {request.query['foo']}")

    async with app.running():
        async with http.get(url_of(app, "/path/to/view/?foo=bar")) as response:
            assert response.status == 200
            assert await response.read() == b""

    assert "FOO PARAM: bar\n" in capsys.readouterr().out


async def test_class_view_answers_its_methods_and_405_for_others(make_app, http):
    app = make_app()
    created: list[object] = []

    @app.page("/orders/")
    class Orders(View):
        async def get(self, request):
            return self.json({"orders": created})

        async def post(self, request):
            order = await request.json()
            created.append(order)
            return self.json({"created": order}, status=201)

    async with app.running():
        async with http.post(url_of(app, "/orders/"), json={"id": 7}) as response:
            assert response.status == 201
            assert await response.json() == {"created": {"id": 7}}
        async with http.get(url_of(app, "/orders/")) as response:
            assert (response.status, await response.json()) == (
                200,
                {"orders": [{"id": 7}]},
            )
        async with http.delete(url_of(app, "/orders/")) as response:
            assert response.status == 405
            assert response.headers["Allow"] == "GET, POST"
            body = await response.json()
            assert body["allowed"] == ["GET", "POST"]
            assert "DELETE" in body["error"]


async def test_json_body_helper_decodes_and_rejects_bad_bodies(make_app, http):
    app = make_app()

    @app.page("/echo/")
    async def echo(web, request):
        return web.json({"got": await request.json(), "method": request.method})

    async with app.running():
        document = {"flights": [1, 2, 3], "origin": "JFK", "nested": {"ok": True}}
        async with http.put(url_of(app, "/echo/"), json=document) as response:
            assert await response.json() == {"got": document, "method": "PUT"}
        async with http.post(url_of(app, "/echo/"), data=b"{not json") as response:
            assert response.status == 400
            assert "not JSON" in (await response.json())["error"]
        async with http.post(url_of(app, "/echo/")) as response:
            assert response.status == 400
            assert "empty" in (await response.json())["error"]


async def test_query_helpers_answer_400_naming_the_parameter(make_app, http):
    app = make_app()

    @app.page("/sum/")
    async def add(web, request):
        n = request.query_param("n", type=int)
        step = request.query_param("step", 1, type=int)
        return web.json({"total": n * step, "tags": request.query.getall("tag")})

    async with app.running():
        async with http.get(url_of(app, "/sum/?n=4&step=3&tag=a&tag=b")) as r:
            assert await r.json() == {"total": 12, "tags": ["a", "b"]}
        async with http.get(url_of(app, "/sum/?n=four")) as r:
            assert r.status == 400
            assert (await r.json())["error"] == (
                "query parameter 'n' must be int, got 'four'"
            )
        async with http.get(url_of(app, "/sum/")) as r:
            assert r.status == 400
            assert (await r.json())["error"] == "missing query parameter 'n'"


async def test_path_parameters_reach_function_and_class_views(make_app, http):
    app = make_app()

    @app.page("/orders/{order_id}/lines/{line}/")
    async def order_line(web, request, order_id, line):
        return web.json({"order": order_id, "line": int(line)})

    @app.page("/customers/{name}/")
    class Customer(View):
        async def get(self, request, name):
            return self.text(f"hello {name}")

    @app.page("/raw/{anything}/")
    async def raw(web, request):  # declares no parameter: match_info has it
        return request.match_info

    async with app.running():
        async with http.get(url_of(app, "/orders/A-17/lines/3/")) as response:
            assert await response.json() == {"order": "A-17", "line": 3}
        # Without the trailing slash, and with an escaped slash in a segment.
        async with http.get(url_of(app, "/customers/a%2Fb")) as response:
            assert await response.text() == "hello a/b"
            assert response.content_type == "text/plain"
        async with http.get(url_of(app, "/raw/x/")) as response:
            assert await response.json() == {"anything": "x"}


async def test_failing_view_answers_500_and_the_server_goes_on(make_app, http, caplog):
    app = make_app()
    calls = []

    @app.page("/fragile/")
    async def fragile(web, request):
        calls.append(request.query.get("n"))
        if request.query.get("fail"):
            raise ValueError("secret-ish detail")
        return web.json({"ok": True})

    caplog.set_level(logging.ERROR, logger="streamkit.web.server")
    async with app.running():
        async with http.get(url_of(app, "/fragile/?fail=1&n=1")) as response:
            assert response.status == 500
            body = await response.json()
        async with http.get(url_of(app, "/fragile/?n=2")) as response:
            assert (response.status, await response.json()) == (200, {"ok": True})

    assert body == {"error": "the view raised ValueError", "view": "fragile"}
    assert calls == ["1", "2"]
    [record] = [r for r in caplog.records if "fragile" in r.getMessage()]
    assert record.exc_info is not None and record.exc_info[0] is ValueError


async def test_return_values_become_responses(make_app, http):
    app = make_app()

    @app.page("/kinds/{kind}/")
    async def kinds(web, request, kind):
        return {
            "dict": {"a": 1},
            "list": [1, 2],
            "str": "plain",
            "bytes": b"\x00\x01",
            "html": web.html("<b>hi</b>"),
            "none": None,
            "error": web.error(418, "teapot", hint="tea"),
            "notfound": web.not_found("gone"),
        }[kind]

    async with app.running():
        seen = {}
        for kind in (
            "dict",
            "list",
            "str",
            "bytes",
            "html",
            "none",
            "error",
            "notfound",
        ):
            async with http.get(url_of(app, f"/kinds/{kind}/")) as r:
                seen[kind] = (r.status, r.content_type, await r.read())

    assert seen == {
        "dict": (200, "application/json", b'{"a":1}'),
        "list": (200, "application/json", b"[1,2]"),
        "str": (200, "text/plain", b"plain"),
        "bytes": (200, "application/octet-stream", b"\x00\x01"),
        "html": (200, "text/html", b"<b>hi</b>"),
        "none": (200, "application/octet-stream", b""),
        "error": (418, "application/json", b'{"error":"teapot","hint":"tea"}'),
        "notfound": (404, "application/json", b'{"error":"gone"}'),
    }


async def test_page_defined_while_running_is_served_and_redefined(make_app, http):
    app = make_app()

    async with app.running():
        async with http.get(url_of(app, "/late/")) as response:
            assert response.status == 404
            assert await response.json() == {"error": "no page at /late/"}

        @app.page("/late/")
        async def late(web, request):
            return web.text("first")

        async with http.get(url_of(app, "/late/")) as response:
            assert await response.text() == "first"

        @app.page("/late/")
        async def late_again(web, request):
            return web.text("second")

        async with http.get(url_of(app, "/late/")) as response:
            assert await response.text() == "second"


def test_bad_page_definitions_fail_at_definition(make_app):
    app = make_app()

    with pytest.raises(ConfigurationError, match="must start with '/'"):
        app.page("orders/")
    with pytest.raises(ConfigurationError, match="async def view"):

        @app.page("/sync/")
        def not_async(web, request):
            return None


async def test_head_is_answered_by_get_without_a_body(make_app, http):
    app = make_app()

    @app.page("/doc/")
    class Doc(View):
        async def get(self, request):
            return self.text("body")

    async with app.running():
        async with http.head(url_of(app, "/doc/")) as response:
            assert response.status == 200
            assert await response.read() == b""
