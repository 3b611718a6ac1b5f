"""The day's schedule by rule: what the planning step (:mod:`agents.steps.plan`) does with schedules without a call.

- :func:`build_blocks`: the model's schedule as timed blocks. Blocks are sorted by start hour, a later block with
  the same start hour is dropped, the first block starts at wake-up, and each block lasts until the next one
  starts, the last one until bed time (``minutes`` only helps the model plan).
- :func:`drop_sleep_blocks` (``[mind] sleep_blocks = false``): blocks that say nothing but to sleep, go to bed or
  wake up (:func:`only_sleep_or_wake`) are dropped first, unless all are.
- :func:`spread_items` (``[mind] schedule_rule``): no schedule call; the daily plan's items in their order between
  wake-up and bed time. An item that states when it starts ("open the cafe at 8am", "lunch around noon") starts
  then, if that keeps the order and leaves every item at least :data:`MIN_ITEM_MIN` minutes; the items between two
  such starts share the time between them equally (starts rounded to 5 minutes); when the first item says it starts
  later than wake-up, the time before it goes to the plan's wake-up item ("wake up around 6am") or, without one, to
  getting ready at home. Items that only sleep or wake are left to the wake-up and bed hours, unless all are. The
  1.5B's own schedule gives its first items an hour each and stretches the last one to bed time, often dropping
  items on the way.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from pydantic import BaseModel

from agents.schemas import DailyPlan, HourlySchedule, ScheduleBlock

#: the first block when the first item says it starts later than wake-up, and no item says to wake up
GETTING_READY = "get ready for the day at home"
#: the least time an item keeps when a stated start hour would squeeze it
MIN_ITEM_MIN = 15


class Block(BaseModel):
    start: datetime
    end: datetime
    activity: str


def fallback_schedule(day: DailyPlan) -> HourlySchedule:
    """The plan's items spread evenly between wake-up and bed time (the schedule step's fallback)."""
    span = day.bed_hour - day.wake_hour
    n = min(len(day.items), span)
    step = span // n
    blocks = [
        ScheduleBlock(start_hour=day.wake_hour + i * step, minutes=min(600, step * 60), activity=item[:80])
        for i, item in enumerate(day.items[:n])
    ]
    return HourlySchedule(reasoning="fallback: plan items spread over the day", blocks=blocks)


_WAKE_WORDS = r"(wake|wakes|waking|woke|get|gets|getting) up|wake"
_WAKE = re.compile(rf"\b({_WAKE_WORDS})\b")
_SLEEP_WAKE = re.compile(r"\b(go(es|ing)? to (bed|sleep)|fall(s|ing)? asleep|asleep|sleep(s|ing)?|nap(s|ping)?|"
                         rf"{_WAKE_WORDS}|bed ?time)\b")
_FILLER = re.compile(r"\b(at|around|about|by|before|after|early|late|on|time|a|an|the|and|reasonable|usual|"
                     r"home|in|my|her|his|their|\d{1,2}(:\d\d)?\s*(am|pm)?|am|pm|o'?clock)\b")


def only_sleep_or_wake(activity: str) -> bool:
    """Whether an activity says nothing but to sleep, go to bed or wake up ("Go to bed at 11pm", "wake up early");
    "Wake up early to study physics" says more, and is kept."""
    text = activity.lower()
    if not _SLEEP_WAKE.search(text):
        return False
    rest = _FILLER.sub(" ", _SLEEP_WAKE.sub(" ", text))
    return not re.search(r"[a-z]{2,}", rest)


def sleep_filter(activities: list[str]) -> list[bool]:
    """Which activities to drop as only sleeping or waking: none when every one is such."""
    sleepy = [only_sleep_or_wake(a) for a in activities]
    return [False] * len(sleepy) if all(sleepy) else sleepy


def drop_sleep_blocks(schedule: HourlySchedule) -> tuple[HourlySchedule, list[str]]:
    """The schedule without blocks that only sleep or wake, and what was dropped (nothing when every block is)."""
    drop = sleep_filter([b.activity for b in schedule.blocks])
    kept = [b for b, d in zip(schedule.blocks, drop) if not d]
    dropped = [b.activity for b, d in zip(schedule.blocks, drop) if d]
    return (schedule.model_copy(update={"blocks": kept}) if dropped else schedule), dropped


def build_blocks(day: date, schedule: HourlySchedule, wake_hour: int, bed_hour: int) -> list[Block]:
    """Schedule blocks as timed :class:`Block` s (see the module doc for the rules)."""
    by_hour: dict[int, ScheduleBlock] = {}
    for b in sorted(schedule.blocks, key=lambda b: b.start_hour):
        by_hour.setdefault(b.start_hour, b)
    starts = [wake_hour] + [b.start_hour for b in list(by_hour.values())[1:]]
    return _timed(day, [(h * 60, b.activity) for h, b in zip(starts, by_hour.values())], bed_hour)


def _timed(day: date, starts: list[tuple[int, str]], bed_hour: int) -> list[Block]:
    """``(minute of the day, activity)`` starts as blocks, each until the next start, the last until bed time."""
    midnight = datetime.combine(day, time())
    ends = [m for m, _ in starts[1:]] + [bed_hour * 60]
    return [Block(start=midnight + timedelta(minutes=m), end=midnight + timedelta(minutes=e), activity=a)
            for (m, a), e in zip(starts, ends)]


_STATED = re.compile(r"\b(?:at|around|from)\s+(?:(noon)|(\d{1,2})(?::([0-5]\d))?\s*([ap])\.?m\b)")


def stated_start(activity: str) -> int | None:
    """The minute of the day an activity says it starts at ("open the cafe at 8am": 480, "lunch around noon": 720,
    "from 8:30 pm": 1230), or None; "until 5pm" or "by 5pm" is not a start."""
    m = _STATED.search(activity.lower())
    if m is None:
        return None
    if m.group(1):
        return 12 * 60
    hour = int(m.group(2))
    if not 1 <= hour <= 12:
        return None
    return (hour % 12 + (12 if m.group(4) == "p" else 0)) * 60 + int(m.group(3) or 0)


def _anchors(items: list[str], first: int, last: int) -> list[tuple[int, int]]:
    """``(item index, start minute)`` of the items whose stated start keeps the order and leaves every item its
    :data:`MIN_ITEM_MIN` minutes, the first item at ``first`` unless it says so itself, and an end marker at
    ``last``."""
    def fits(i: int, start: int, prev_i: int, prev_m: int) -> bool:
        return start - prev_m >= MIN_ITEM_MIN * (i - prev_i) and last - start >= MIN_ITEM_MIN * (len(items) - i)

    opening = stated_start(items[0])
    points = [(-1, first), (0, opening)] if opening is not None and fits(0, opening, -1, first) else [(0, first)]
    for i, item in enumerate(items[1:], start=1):
        start = stated_start(item)
        if start is not None and fits(i, start, *points[-1]):
            points.append((i, start))
    return points + [(len(items), last)]


def spread_items(day: date, items: list[str], wake_hour: int, bed_hour: int) -> tuple[list[Block], list[str]]:
    """``[mind] schedule_rule``: the day's blocks from the plan's items (see the module doc), and the items left to
    the wake-up and bed hours."""
    drop = sleep_filter(items)
    kept = [i[:80] for i, d in zip(items, drop) if not d]
    dropped = [i for i, d in zip(items, drop) if d]
    kept = kept[: (bed_hour - wake_hour) * 60 // MIN_ITEM_MIN - 1]
    points = _anchors(kept, wake_hour * 60, bed_hour * 60)
    starts: list[tuple[int, str]] = []
    if points[0][0] == -1:  # the first item says it starts later: the time before it is spent getting ready
        starts.append((points[0][1], next((i for i in dropped if _WAKE.search(i.lower())), GETTING_READY)[:80]))
        points[0] = (0, points[1][1])
        del points[1]
    for (i0, m0), (i1, m1) in zip(points, points[1:]):
        share = (m1 - m0) / (i1 - i0)
        starts += [(m0 + 5 * round(share * k / 5), kept[i0 + k]) for k in range(i1 - i0)]
    return _timed(day, starts, bed_hour), dropped
