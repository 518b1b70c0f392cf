"""When and where the web server listens."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import aiohttp
import pytest

from streamkit import App
from streamkit.settings import Settings

from .conftest import url_of


def listening_addresses(port: int) -> set[str]:
    """Local addresses of the TCP sockets listening on ``port``, as the
    kernel lists them in /proc/net/tcp."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, _, state = line.split()[1:4]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_web_settings_default_to_faust_port_on_loopback_only():
    settings = Settings("app", env={})

    assert settings.web_enabled is True
    assert settings.web_port == 6066
    assert settings.web_bind == "127.0.0.1"


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")
async def test_server_binds_loopback_by_default(make_app, http):
    app = make_app()

    async with app.running():
        [(host, port)] = app.web.addresses
        assert host == "127.0.0.1"
        assert listening_addresses(port) == {"127.0.0.1"}
        assert app.web.url == f"http://127.0.0.1:{port}/"
        async with http.get(url_of(app, "/nothing/")) as response:
            assert response.status == 404


async def test_web_disabled_starts_no_server(make_app):
    port = free_port()
    app = make_app(web_enabled=False, web_port=port)

    async with app.running():
        assert not app.web.running and app.web.url is None
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()


async def test_server_stops_with_the_app_and_starts_again(make_app, http):
    port = free_port()
    app = make_app(web_port=port)

    @app.page("/ping/")
    async def ping(web, request):
        return web.text("pong")

    for _ in range(2):
        async with app.running():
            async with http.get(f"http://127.0.0.1:{port}/ping/") as response:
                assert await response.text() == "pong"
        with pytest.raises(aiohttp.ClientConnectionError):
            async with http.get(f"http://127.0.0.1:{port}/ping/"):
                pass


async def test_port_in_use_leaves_the_app_running_without_web(make_app, caplog):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        app: App = make_app(web_port=port)

        with caplog.at_level(logging.WARNING, logger="streamkit.web.server"):
            async with app.running():
                assert app.is_running and not app.web.running

    [warning] = caplog.records
    assert f"127.0.0.1:{port}" in warning.getMessage()
    assert "web_port" in warning.getMessage()
