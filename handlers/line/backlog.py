"""What one event consumer has read and not yet handled, served fairly (``Backlog``).

Each person's events leave in the order they came, and the persons take turns, one event each;
the consumer (``worker``) reads into it, and serves it a slice of time at a time.
"""

from __future__ import annotations

from collections import deque

from handlers.line.queued import QueuedEvent
from storage.events import Entry


class Backlog:
    """What one consumer has read and not yet handled, served fairly: each person's events in
    the order they came, and the persons taking turns, one event each (round robin).

    A partition used to be served first come, first served: one person's flood (hundreds of
    messages in seconds) put everyone else of the partition behind all of it, and that
    person's events, handled one at a time, aged past the reply token's life; each late
    answer is a push (the quota, and three to five times a reply's CPU: an RQ job, the SDK's
    models). Now a person who has just sent one message waits for at most one event of each
    other person in hand, whatever they queued, and a person's order is untouched (their
    events leave their own lane in order, and one consumer serves the lane)."""

    def __init__(self) -> None:
        self._lanes: dict[tuple[int, str], deque[tuple[Entry, QueuedEvent | None]]] = {}
        self._rotation: deque[tuple[int, str]] = deque()
        self._per_partition: dict[int, int] = {}
        self.size = 0

    def add(self, entries: list[Entry]) -> None:
        """Entries as read (each partition's in stream order): each joins its person's lane."""
        for entry in entries:
            try:
                event = QueuedEvent.from_json(entry.payload)
                person = (entry.partition, event.user)
            except ValueError:  # not ours to judge here: ``process`` fails it
                event, person = None, (entry.partition, "entry:" + entry.entry_id)
            lane = self._lanes.get(person)
            if lane is None:
                lane = self._lanes[person] = deque()
                self._rotation.append(person)
            lane.append((entry, event))
            self.size += 1
            self._per_partition[entry.partition] = self._per_partition.get(entry.partition, 0) + 1

    def pop(self) -> tuple[Entry, QueuedEvent | None] | None:
        """The next person's oldest event (None when nothing is in hand)."""
        if not self._rotation:
            return None
        person = self._rotation.popleft()
        lane = self._lanes[person]
        item = lane.popleft()
        if lane:
            self._rotation.append(person)
        else:
            del self._lanes[person]
        self.size -= 1
        left = self._per_partition[person[0]] - 1
        if left:
            self._per_partition[person[0]] = left
        else:
            del self._per_partition[person[0]]
        return item

    def waiting(self, entry: Entry, event: QueuedEvent) -> int:
        """How many more of this person's entries are in hand (behind ``entry``, just popped)."""
        lane = self._lanes.get((entry.partition, event.user))
        return len(lane) if lane else 0

    def take_while(self, entry: Entry, event: QueuedEvent, keep_taking) -> list[tuple[Entry, QueuedEvent | None]]:
        """Take this person's next entries while ``keep_taking(entry, event)`` holds (in order)."""
        person = (entry.partition, event.user)
        lane = self._lanes.get(person)
        taken = []
        while lane and keep_taking(*lane[0]):
            taken.append(lane.popleft())
        if taken:
            self.size -= len(taken)
            left = self._per_partition[entry.partition] - len(taken)
            if left:
                self._per_partition[entry.partition] = left
            else:
                del self._per_partition[entry.partition]
            if not lane:
                del self._lanes[person]
                self._rotation.remove(person)
        return taken

    def drop(self, partition: int) -> None:
        """Forget the partition's entries (stuck behind an outage, or no longer ours): they stay
        pending in Redis, to be read again in order."""
        if self._per_partition.pop(partition, None) is None:
            return
        gone = [person for person in self._lanes if person[0] == partition]
        for person in gone:
            self.size -= len(self._lanes.pop(person))
        self._rotation = deque(person for person in self._rotation if person in self._lanes)

    def partitions(self) -> set[int]:
        """The partitions something in hand belongs to."""
        return set(self._per_partition)
