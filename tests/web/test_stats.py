"""Debug stats endpoints: the Monitor as JSON with debug=True, absent without."""

from __future__ import annotations

from behaviour.support import wait_for

from streamkit import SASLCredentials

from .conftest import url_of

PASSWORD = "pw-Zq8-never-shown"


async def test_debug_stats_show_the_counts_of_a_run(make_app, http, unique, broker_url):
    # On both brokers: the figures come from the runtime's hooks, and the
    # Kafka driver's producer and group rebalances feed them too.
    app = make_app(debug=True, broker=broker_url)
    orders = app.topic(f"orders-{unique}")
    totals = app.Table("totals", default=int)

    @app.agent(orders)
    async def tally(stream):
        async for key, amount in stream.items():
            totals[key] += amount

    sent = [(f"customer-{i % 7}", i) for i in range(300)]
    async with app.running():
        for key, amount in sent:
            await orders.send(key=key, value=amount)
        await wait_for(lambda: tally.processed >= len(sent), what="every order")
        await app.commit()

        async with http.get(url_of(app, "/stats/")) as response:
            assert response.status == 200
            stats = await response.json()
        async with http.get(url_of(app, "/stats/agents/")) as response:
            agents = await response.json()
        async with http.get(url_of(app, "/stats/nope/")) as response:
            assert response.status == 404
            assert "agents" in (await response.json())["sections"]

    n = len(sent)
    assert stats["app_id"] == app.id
    assert stats["topics"][orders.name]["sent"] == n
    assert stats["topics"][orders.name]["received"] == n
    assert stats["messages_received_total"] == n
    assert stats["agents"]["tally"]["events"] == n
    assert stats["agents"]["tally"]["errors"] == 0
    assert stats["agents"]["tally"]["runtime"]["count"] >= 1
    assert stats["tables"]["totals"] == {"keys": 7, "reads": n, "writes": n}
    assert stats["rebalances"] >= 1
    assert stats["assigned_partitions"] == 2
    assert stats["producer_flush_latency"]["count"] >= 1
    assert stats["commits"] == stats["commit_latency"]["count"] >= 1
    # Rates move with time; the counts of the section are the same.
    assert agents["tally"]["events"] == n
    assert agents.keys() == stats["agents"].keys()


async def test_stats_are_absent_without_debug(make_app, http):
    app = make_app()

    async with app.running():
        for path in ("/stats/", "/stats/agents/"):
            async with http.get(url_of(app, path)) as response:
                assert response.status == 404
                assert await response.json() == {"error": f"no page at {path}"}

        # The setting is read per request: a notebook may turn it on.
        app.conf.debug = True
        async with http.get(url_of(app, "/stats/")) as response:
            assert response.status == 200


async def test_no_web_output_shows_the_broker_password(make_app, http, unique):
    app = make_app(
        debug=False,
        broker_credentials=SASLCredentials(username="svc", password=PASSWORD),
    )
    app.Table("counts", default=int)

    @app.page("/leaky/")
    async def leaky(web, request):
        raise RuntimeError(f"could not log in with {PASSWORD}")

    bodies = []
    async with app.running():
        for debug in (False, True):
            app.conf.debug = debug
            for path in ("/stats/", "/stats/topics/", "/table/counts/", "/nope/"):
                async with http.get(url_of(app, path)) as response:
                    bodies.append(await response.text())
        app.conf.debug = False
        async with http.get(url_of(app, "/leaky/")) as response:
            assert response.status == 500
            bodies.append(await response.text())

    assert bodies and not [b for b in bodies if PASSWORD in b]
