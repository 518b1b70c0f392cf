"""A record Kafka never stored must not be skipped by a later commit.

The App commits the offsets of the messages it processed only after a flush
of the producer succeeds.  If a flush that follows a failed one succeeded,
the next commit would move past the message whose output was lost, and
at-least-once would silently become at-most-once.
"""

from __future__ import annotations

import pytest

from streamkit.exceptions import TransportError
from streamkit.transport import create_transport


@pytest.mark.kafka
async def test_a_lost_record_keeps_every_later_flush_failing(kafka_bootstrap, unique):
    transport = create_transport(f"kafka://{kafka_bootstrap}")
    await transport.start()
    compacted, plain = f"compacted-{unique}", f"plain-{unique}"
    await transport.create_topic(compacted, 1, compacted=True)
    await transport.create_topic(plain, 1)
    producer = transport.create_producer()
    await producer.start()
    try:
        # Kafka refuses an unkeyed record on a compacted topic, on delivery.
        await producer.send(compacted, None, b"no key")
        with pytest.raises(TransportError, match=compacted):
            await producer.flush()

        await producer.send(plain, b"key", b"delivered")
        with pytest.raises(TransportError, match=compacted):
            await producer.flush()
    finally:
        await producer.stop()  # the failure was reported: stop closes quietly
        await transport.stop()
