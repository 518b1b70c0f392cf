"""The App's tables: creation, changelog flushing, recovery and hand-over."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..transport import TP
from .table import Table

if TYPE_CHECKING:
    from ..app import App

logger = logging.getLogger(__name__)


class TableManager:
    """Tables by name, and what the App does with all of them at once."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.tables: dict[str, Table] = {}
        #: Partition numbers whose changelog this worker has recovered.
        self.recovered: set[int] = set()

    def __iter__(self):
        return iter(self.tables.values())

    def __len__(self) -> int:
        return len(self.tables)

    def __getitem__(self, name: str) -> Table:
        return self.tables[name]

    def __contains__(self, name: object) -> bool:
        return name in self.tables

    def add(self, name: str, **options: Any) -> Table:
        """The table called ``name``, created on first use.

        Defining a table again (a notebook cell re-run) returns the existing
        one, so its state survives; its default factory is updated.
        """
        table = self.tables.get(name)
        if table is not None:
            if "default" in options:
                table.default = options["default"]
            return table

        table = self.tables[name] = Table(self.app, name, **options)
        if self.app.is_running:
            self.app.spawn(self._bring_online(table))
        return table

    async def _bring_online(self, table: Table) -> None:
        await self.app.declare_topic(table.changelog)
        await self._recover_table(table, set(self.recovered))

    async def flush(self) -> int:
        """Send every table's changed keys to its changelog; returns the count."""
        sent = 0
        for table in self.tables.values():
            topic = table.changelog
            producer = self.app.producer_for(topic)
            for partition, key, value in table.changes():
                await producer.send(topic.name, key, value, partition)
                sent += 1
        if sent:
            self.app.monitor.on_changelog_writes(sent)
        return sent

    def all_partitions(self) -> set[int]:
        """Every changelog partition number of every table."""
        return {
            p
            for table in self.tables.values()
            for p in range(table.changelog.partition_count)
        }

    async def recover(self, partitions: set[int]) -> None:
        """Read the changelog partitions this worker was just assigned."""
        new = partitions - self.recovered
        self.recovered |= new
        for table in self.tables.values():
            await self._recover_table(table, new)

    async def _recover_table(self, table: Table, partitions: set[int]) -> None:
        transport = self.app.transport
        topic = table.changelog
        tps = [
            TP(topic.name, p) for p in sorted(partitions) if p < topic.partition_count
        ]
        if not tps:
            return
        ends = await transport.end_offsets(tps)
        applied = 0
        for tp in tps:
            if ends.get(tp, 0) <= 0:
                continue
            async for batch in transport.read_partition(tp, 0, ends[tp]):
                applied += table.apply_changelog(batch)
        if applied:
            logger.info(
                "table %s: recovered %d changelog records (%d keys) from %d partitions",
                table.name,
                applied,
                len(table),
                len(tps),
            )

    def drop(self, partitions: set[int]) -> None:
        """Forget the state of partitions handed to another worker."""
        self.recovered -= partitions
        for table in self.tables.values():
            table.drop_partitions(partitions)
