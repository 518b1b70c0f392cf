"""Table: a dict per key whose changes are written to a compacted changelog.

Writes are coalesced: the table remembers which keys changed and the App
sends only their latest values to the changelog right before it commits the
source offsets (see :meth:`Table.changes`).  A key updated 10,000 times
between two commits costs one changelog record, and the changelog never lags
the committed offsets.

A key's changelog partition is the partition of the event being processed
when it was written, so the table is co-partitioned with its source topic: a
worker that is assigned partition *p* recovers changelog partition *p*.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..events import current_agent, current_event
from ..exceptions import DecodeError, TableError
from ..topics import Topic
from ..transport import Message
from ..transport.partitioner import partition_for

if TYPE_CHECKING:
    import pandas

    from ..app import App

logger = logging.getLogger(__name__)


class Table:
    """Per-key state, readable and writable from agents, durable via changelog.

    Args:
        app: the owning App.
        name: the table name; the changelog is ``{app_id}-{name}-changelog``.
        default: a callable giving the value of a missing key (``int``,
            ``list``...); without it a missing key raises KeyError.
        key_type, value_type: how keys and values are encoded in the
            changelog (a Record class, ``str``, ``int``... or None for JSON).
        partitions: changelog partitions; should match the source topic's.
    """

    def __init__(
        self,
        app: App,
        name: str,
        *,
        default: Callable[[], Any] | None = None,
        key_type: Any = None,
        value_type: Any = None,
        partitions: int | None = None,
        help: str | None = None,
    ) -> None:
        if default is not None and not callable(default):
            raise TableError(
                f"table {name!r}: default must be a callable such as int or "
                f"list, got {default!r}"
            )
        self.app = app
        self.name = name
        self.default = default
        self.help = help or ""
        self.changelog = Topic(
            app,
            f"{app.id}-{name}-changelog",
            key_type=key_type,
            value_type=value_type,
            partitions=partitions,
            compacted=True,
        )
        self._data: dict[Any, Any] = {}
        self._partition_of: dict[Any, int] = {}
        self._dirty: set[Any] = set()
        self._warned_partition = False
        self.reads = 0
        self.writes = 0
        #: Keys in the order they were written, newest last; kept only while
        #: something (a live table view) asked for it with :meth:`track_recent`.
        self.recent: deque[Any] | None = None

    def __repr__(self) -> str:
        return f"<Table {self.name!r} keys={len(self._data)}>"

    # -- the mapping -------------------------------------------------------

    def __getitem__(self, key: Any) -> Any:
        self.reads += 1
        try:
            return self._data[key]
        except KeyError:
            if self.default is None:
                raise
            return self.default()

    def __setitem__(self, key: Any, value: Any) -> None:
        """Set ``table[key]``; the change reaches the changelog at the next commit.

        Raises:
            TableError: ``key`` is None (the compacted changelog cannot carry
                it), or the writing agent runs with concurrency > 1.
        """
        self._check_key(key)
        self._check_writer()
        self.writes += 1
        self._data[key] = value
        if key not in self._partition_of:
            self._partition_of[key] = self._partition_for(key)
        elif not self._warned_partition:
            self._check_partition(key)
        self._dirty.add(key)
        if self.recent is not None:
            self.recent.append(key)

    def __delitem__(self, key: Any) -> None:
        """Delete ``table[key]``; the changelog gets a tombstone at the next commit.

        Raises:
            KeyError: the key is not in the table.
            TableError: as for ``table[key] = value``.
        """
        self._check_key(key)
        self._check_writer()
        del self._data[key]
        self.writes += 1
        self._partition_of.setdefault(key, self._partition_for(key))
        self._dirty.add(key)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._data))

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: Any, default: Any = None) -> Any:
        self.reads += 1
        return self._data.get(key, default)

    def peek(self, key: Any, default: Any = None) -> Any:
        """Like :meth:`get`, without counting a read (for views)."""
        return self._data.get(key, default)

    def keys(self) -> list[Any]:
        return list(self._data.keys())

    def values(self) -> list[Any]:
        return list(self._data.values())

    def items(self) -> list[tuple[Any, Any]]:
        return list(self._data.items())

    def track_recent(self, depth: int = 1000) -> None:
        """Remember the last ``depth`` writes, for :meth:`newest_keys`."""
        if self.recent is None or (self.recent.maxlen or 0) < depth:
            self.recent = deque(self.recent or (), maxlen=depth)

    def newest_keys(self, count: int) -> list[Any]:
        """Up to ``count`` present keys, most recently written first (needs
        :meth:`track_recent`; keys written before it count as oldest)."""
        seen: dict[Any, None] = {}
        for key in reversed(self.recent or ()):
            if key in self._data:
                seen.setdefault(key, None)
                if len(seen) == count:
                    return list(seen)
        for key in self._data:
            if len(seen) == count:
                break
            seen.setdefault(key, None)
        return list(seen)

    def as_dict(self) -> dict[Any, Any]:
        """A copy of the contents."""
        return dict(self._data)

    def as_dataframe(self) -> pandas.DataFrame:
        """The contents as a DataFrame indexed by key, sorted by key.

        Record and dict values give one column per field; other values give
        a single ``value`` column, which an empty table has too.
        """
        import pandas

        keys = sorted(self._data, key=key_order)
        rows = [row_of(self._data[key]) for key in keys]
        index = pandas.Index(keys, name="key")
        if not rows:
            return pandas.DataFrame({"value": []}, index=index)
        return pandas.DataFrame(rows, index=index)

    # -- partitions and the changelog ------------------------------------

    def _check_key(self, key: Any) -> None:
        # Checked at the write, inside the handler, so the event counts as
        # that handler's error and the App goes on.  Found at the commit, the
        # changelog record could not be stored, and committing past it would
        # lose the write: the whole App would have to stop.
        if key is not None:
            return
        event = current_event.get()
        if event is None:
            during = ""
        else:
            m = event.message
            unkeyed = " (a record sent without a key)" if event.key is None else ""
            during = f" while processing {m.topic}[{m.partition}]@{m.offset}{unkeyed}"
        raise TableError(
            f"table {self.name!r}: cannot write key None{during}: its changelog "
            f"{self.changelog.name!r} is compacted, which keeps one record per "
            "key, so every record needs a key. Send the records with a key "
            "(topic.send(key=...), or %streamkit send TOPIC VALUE --key KEY), "
            "or take the table key from the value (table[value['origin']]), "
            "or re-key the stream to a topic keyed by the table key."
        )

    def _check_writer(self) -> None:
        agent = current_agent.get()
        if agent is not None and agent.concurrency > 1:
            raise TableError(
                f"table {self.name!r} was modified by agent {agent.name!r}, "
                f"which runs with concurrency={agent.concurrency}: its actors "
                "would race on the same keys. Use concurrency=1 for agents "
                "that write tables, or partition the work over more "
                "topic partitions and workers."
            )

    def _check_partition(self, key: Any) -> None:
        # A key stays in the changelog partition it was first written to, so
        # recovery finds one record for it; a stream not partitioned by the
        # table key would still spread updates over workers, so say so once.
        event = current_event.get()
        home = self._partition_of[key]
        if event is not None and event.message.partition != home:
            self._warned_partition = True
            m = event.message
            logger.warning(
                "table %s: key %r lives in changelog partition %d but was "
                "updated from %s[%d]@%d; with several workers its updates "
                "would be split. Send the stream keyed by the table key "
                "(re-key it to a topic) before updating the table.",
                self.name,
                key,
                home,
                m.topic,
                m.partition,
                m.offset,
            )

    def _partition_for(self, key: Any) -> int:
        partitions = self.changelog.partition_count
        event = current_event.get()
        if event is not None and event.message.partition < partitions:
            return event.message.partition
        return partition_for(self.changelog.codec.dumps_key(key), partitions)

    def changes(self) -> list[tuple[int, bytes | None, bytes | None]]:
        """Take the keys changed since the last call, encoded for the changelog.

        Returns ``(partition, key, value)`` triples; a deleted key has value
        None (a tombstone, so compaction forgets it).
        """
        dirty, self._dirty = self._dirty, set()
        codec = self.changelog.codec
        data = self._data
        records = []
        for key in dirty:
            if key in data:
                partition = self._partition_of[key]
                value = codec.dumps_value(data[key])
            else:
                partition = self._partition_of.pop(key)
                value = None
            records.append((partition, codec.dumps_key(key), value))
        return records

    def apply_changelog(self, messages: list[Message]) -> int:
        """Replay changelog records into the table; returns how many applied."""
        codec = self.changelog.codec
        applied = 0
        for message in messages:
            try:
                key = codec.loads_key(message.key)
                value = (
                    None if message.value is None else codec.loads_value(message.value)
                )
            except DecodeError as exc:
                self.app.monitor.on_decode_error(message.topic, message.partition)
                logger.warning(
                    "table %s: skipped changelog record %s[%d]@%d: %s",
                    self.name,
                    message.topic,
                    message.partition,
                    message.offset,
                    exc,
                )
                continue
            if value is None:
                self._data.pop(key, None)
                self._partition_of.pop(key, None)
            else:
                self._data[key] = value
                self._partition_of[key] = message.partition
            applied += 1
        return applied

    def drop_partitions(self, partitions: set[int]) -> None:
        """Forget the keys of partitions this worker no longer owns."""
        gone = [k for k, p in self._partition_of.items() if p in partitions]
        for key in gone:
            self._data.pop(key, None)
            self._partition_of.pop(key, None)
            self._dirty.discard(key)


def key_order(key: Any) -> tuple[str, Any]:
    """Sort key for table keys of mixed types."""
    # Keys of mixed types (None, ints, strings) still sort deterministically.
    return (type(key).__name__, key if key is not None else 0)


def row_of(value: Any) -> dict[str, Any]:
    """A value as one DataFrame row: a Record's or dict's fields, else ``value``."""
    if hasattr(value, "asdict"):
        return value.asdict()
    if isinstance(value, dict):
        return value
    return {"value": value}
