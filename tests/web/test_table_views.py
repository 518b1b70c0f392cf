"""Table views: /table/{name}/ and /table/{name}/{key}/ over real HTTP."""

from __future__ import annotations

import random
from collections import Counter

from behaviour.support import wait_for

from streamkit import Record

from .conftest import url_of

ORIGINS = ["EWR", "JFK", "LGA"]
CARRIERS = ["AA", "B6", "DL", "EV", "UA", "WN"]


class Flight(Record):
    origin: str
    carrier: str
    dep_delay: int


class Summary(Record):
    flights: int
    delay: int


def random_flights(count: int, seed: int = 7) -> list[Flight]:
    rng = random.Random(seed)
    return [
        Flight(
            origin=rng.choice(ORIGINS),
            carrier=rng.choice(CARRIERS),
            dep_delay=rng.randint(-10, 120),
        )
        for _ in range(count)
    ]


async def test_table_views_show_counts_computed_by_an_agent(make_app, http, unique):
    app = make_app()
    flights_topic = app.topic(f"flights-{unique}", value_type=Flight)
    per_origin = app.Table("per_origin", default=int)
    by_hour = app.Table("by_delay_hour", default=int)
    summaries = app.Table("summaries")

    @app.agent(flights_topic)
    async def count(stream):
        async for flight in stream.events():
            f = flight.value
            per_origin[f.origin] += 1
            by_hour[max(f.dep_delay, 0) // 60] += 1
            old = summaries.get(f.carrier) or Summary(flights=0, delay=0)
            summaries[f.carrier] = Summary(
                flights=old.flights + 1, delay=old.delay + f.dep_delay
            )

    flights = random_flights(500)
    async with app.running():
        for flight in flights:
            await flights_topic.send(key=flight.origin, value=flight)
        await wait_for(lambda: count.processed >= len(flights), what="every flight")

        async with http.get(url_of(app, "/table/per_origin/")) as response:
            assert response.status == 200
            whole = await response.json()
        async with http.get(url_of(app, "/table/by_delay_hour/")) as response:
            hours = await response.json()
        async with http.get(url_of(app, "/table/per_origin/JFK/")) as response:
            jfk = await response.json()
        async with http.get(url_of(app, "/table/by_delay_hour/1")) as response:
            one_hour = await response.json()
        async with http.get(url_of(app, "/table/summaries/")) as response:
            carriers = await response.json()

    assert whole == dict(Counter(f.origin for f in flights))
    # Int keys are JSON object keys as text, and found from the URL as ints.
    expected_hours = Counter(max(f.dep_delay, 0) // 60 for f in flights)
    assert hours == {str(h): n for h, n in expected_hours.items()}
    assert jfk == whole["JFK"]
    assert one_hour == expected_hours[1]
    # Record values are objects.
    for carrier in CARRIERS:
        mine = [f for f in flights if f.carrier == carrier]
        assert carriers[carrier] == {
            "flights": len(mine),
            "delay": sum(f.dep_delay for f in mine),
        }


async def test_table_views_answer_404_with_a_clear_error(make_app, http):
    app = make_app()
    app.Table("counts", default=int)
    app.Table("totals")

    async with app.running():
        async with http.get(url_of(app, "/table/nope/")) as response:
            assert response.status == 404
            unknown_table = await response.json()
        async with http.get(url_of(app, "/table/counts/missing/")) as response:
            assert response.status == 404
            missing_key = await response.json()

    assert unknown_table == {
        "error": "no table 'nope'; the tables are: counts, totals",
        "tables": ["counts", "totals"],
    }
    # A default (int) does not make a missing key exist.
    assert missing_key == {
        "error": "key 'missing' is not in table 'counts'",
        "table": "counts",
        "key": "missing",
    }


async def test_user_page_takes_precedence_over_table_views(make_app, http):
    app = make_app()
    app.Table("counts")

    @app.page("/table/{name}/")
    async def mine(web, request, name):
        return web.text(f"custom {name}")

    async with app.running():
        async with http.get(url_of(app, "/table/counts/")) as response:
            assert await response.text() == "custom counts"
