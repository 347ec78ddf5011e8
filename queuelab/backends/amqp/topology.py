"""The broker objects behind one QueueLab queue, and how a delayed task finds its way back.

For queue `jobs`:

* `queuelab.jobs` — the durable main queue (with `x-max-priority` 9 for discipline=priority,
  so task priorities map onto AMQP levels 0..9). Its dead-letter exchange is
  `queuelab.jobs.dead`, so a message some other client rejects is kept, not dropped.
* `queuelab.jobs.dead` — a fanout exchange and the durable queue bound to it: the
  dead-letter queue. Our own dead letters are published there with their error.
* `queuelab.jobs.delay.0` … `.delay.23` — the delay ladder (no plugin needed). Queue `L`
  holds every message for exactly 2**L ticks of 10 ms (`x-message-ttl`), then dead-letters
  it to exchange `L-1`; queue 0 dead-letters into the main queue. A delayed publish goes to
  topic exchange 23 with a routing key spelling the delay in binary ("0.0.…1.0.1"); each
  exchange `L` routes a message whose bit L is 1 into queue L and every other message on to
  exchange `L-1` (exchange 0 sends it to the main queue). A delay is thus served exactly, to
  10 ms, up to 2**24 ticks (46.6 h), by a fixed set of 24 queues.

Why a ladder and not the simpler alternatives: one retry queue with per-message expiration
suffers head-of-line blocking (RabbitMQ only expires the message at the head, so a 1 s retry
waits behind a 60 s one); per-delay queues created on demand multiply without bound under
jittered backoff, can vanish (`x-expires`) with messages still inside, and no other process
can find them to count. Every queue of the ladder holds a single TTL, so expiry order is
arrival order; the set is fixed, so any process counts delayed tasks exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiormq
from aiormq.exceptions import ChannelNotFoundEntity

LEVELS = 24
TICK = 0.01  # seconds: the delay resolution
MAX_DELAY = ((1 << LEVELS) - 1) * TICK
MAX_PRIORITY = 9  # AMQP priority levels 0..9: RabbitMQ recommends few levels


@dataclass(frozen=True, slots=True)
class Names:
    """Names of the broker objects of one QueueLab queue."""

    queue: str

    @property
    def main(self) -> str:
        return f"queuelab.{self.queue}"

    @property
    def dead(self) -> str:  # both the dead-letter exchange and its queue
        return f"queuelab.{self.queue}.dead"

    def delay(self, level: int) -> str:  # both the exchange and the queue of a level
        return f"queuelab.{self.queue}.delay.{level}"

    @property
    def marker(self) -> str:  # declared last: its existence means the rest exists
        return f"queuelab.{self.queue}.declared"

    @property
    def delay_entry(self) -> str:
        return self.delay(LEVELS - 1)

    @property
    def queues(self) -> tuple[str, ...]:
        return (self.main, self.dead, *(self.delay(level) for level in range(LEVELS)))


def delay_ticks(delay: float) -> int:
    """Whole 10 ms ticks for a delay (at least one); refuses what the ladder cannot hold."""
    if delay > MAX_DELAY:
        raise ValueError(f"delay {delay:g} s is longer than the {MAX_DELAY:,.0f} s AMQP maximum")
    return max(1, round(delay / TICK))


def delay_key(ticks: int) -> str:
    """The routing key spelling `ticks` in binary, most significant level first."""
    return ".".join("1" if ticks >> level & 1 else "0" for level in range(LEVELS - 1, -1, -1))


def _pattern(level: int, bit: str) -> str:
    """A topic pattern matching keys whose word for `level` is `bit`."""
    return "*." * (LEVELS - 1 - level) + bit + ".#"


async def declare(
    channel: aiormq.abc.AbstractChannel,
    scratch: aiormq.abc.AbstractConnection,
    names: Names,
    priority: bool,
) -> None:
    """Create every object of the queue (idempotent; durable, so a broker restart keeps them).

    The main queue is declared with its arguments every time: one that exists with others
    (opened before with another discipline) makes the broker refuse with PRECONDITION_FAILED,
    which the caller reports. The rest - about a hundred durable objects, each a broker-side
    transaction - is declared only when the marker exchange, declared last, is missing
    (checked on a throwaway channel, since a failed passive declare closes its channel).
    """
    main_args: aiormq.abc.ArgumentsType = {"x-dead-letter-exchange": names.dead}
    if priority:
        main_args["x-max-priority"] = MAX_PRIORITY
    await channel.queue_declare(names.main, durable=True, arguments=main_args)
    if await _exists(scratch, names.marker):
        return
    await channel.exchange_declare(names.dead, exchange_type="fanout", durable=True)
    await channel.queue_declare(names.dead, durable=True)
    await channel.queue_bind(names.dead, names.dead, routing_key="")
    # The ladder is 24 x 4 objects: sent without waiting for each reply (nowait); the
    # marker's synchronous declare fails if any of them did (the broker closes the channel).
    for level in range(LEVELS):
        exchange = names.delay(level)
        await channel.exchange_declare(exchange, exchange_type="topic", durable=True, nowait=True)
        args: aiormq.abc.ArgumentsType = {"x-message-ttl": (1 << level) * round(TICK * 1000)}
        if level:
            args["x-dead-letter-exchange"] = names.delay(level - 1)
        else:
            args["x-dead-letter-exchange"] = ""  # the default exchange: straight to main
            args["x-dead-letter-routing-key"] = names.main
        await channel.queue_declare(exchange, durable=True, arguments=args, nowait=True)
        await channel.queue_bind(exchange, exchange, routing_key=_pattern(level, "1"), nowait=True)
        if level:
            await channel.exchange_bind(
                destination=names.delay(level - 1),
                source=exchange,
                routing_key=_pattern(level, "0"),
                nowait=True,
            )
        else:
            await channel.queue_bind(
                names.main, exchange, routing_key=_pattern(0, "0"), nowait=True
            )
    await channel.exchange_declare(names.marker, exchange_type="fanout", durable=True)


async def _exists(connection: aiormq.abc.AbstractConnection, exchange: str) -> bool:
    ch = await connection.channel(publisher_confirms=False)
    try:
        await ch.exchange_declare(exchange, passive=True)
    except ChannelNotFoundEntity:
        return False
    finally:
        if not ch.is_closed:
            await ch.close()
    return True


async def delete(channel: aiormq.abc.AbstractChannel, names: Names) -> None:
    """Delete every object of the queue, messages included (tests and resets).

    The marker goes first, so an interrupted delete is completed by the next declare.
    """
    await channel.exchange_delete(names.marker)
    for queue in names.queues:
        await channel.queue_delete(queue, nowait=True)
    await channel.exchange_delete(names.dead, nowait=True)
    for level in range(LEVELS):
        await channel.exchange_delete(names.delay(level), nowait=True)
    await channel.exchange_declare("amq.direct", passive=True)  # waits for the deletes
