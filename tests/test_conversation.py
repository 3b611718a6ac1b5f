"""Conversations on their own: turns pass, the end is recorded for the pair's cooldown, the state round-trips."""

from __future__ import annotations

from datetime import datetime, timedelta

from town.world.conversation import Conversations

T0 = datetime(2023, 2, 13, 9, 0)


def test_turns_pass_and_the_end_starts_the_pairs_cooldown() -> None:
    book = Conversations()
    assert book.talk_again_at("A", "B", 30) is None
    conv = book.start("A", "B", tick=3, max_turns=4)
    assert conv.id == "c1" and conv.turn_of == "A"
    chat = book.say(conv, "A", "Hi B", now=T0, tick=3)
    assert chat == {"type": "chat", "agent": "A",
                    "data": {"conversation": "c1", "speaker": "A", "listeners": ["B"], "text": "Hi B"}}
    assert conv.turn_of == "B" and conv.last_line_tick == 3
    end = book.end(conv, "B", "ended", now=T0 + timedelta(minutes=2), tick=4)
    assert end["data"]["lines"] == [{"speaker": "A", "text": "Hi B"}] and end["data"]["reason"] == "ended"
    assert book.talk_again_at("B", "A", 30) == T0 + timedelta(minutes=32)  # either order names the pair
    assert [v.id for v in book.finished("B", 4)] == ["c1"] and book.finished("B", 5) == []
    book.forget_ended_before(5)
    assert book.in_order() == [] and book.start("B", "A", tick=6, max_turns=4).id == "c2"


def test_silence_and_the_checkpoint_state() -> None:
    book = Conversations()
    quiet = book.start("A", "B", tick=1, max_turns=4)
    book.say(quiet, "A", "hello?", now=T0, tick=1)
    busy = book.start("C", "D", tick=5, max_turns=4)
    assert book.silent(6, 5) == [quiet]
    book.end(quiet, None, "silence", now=T0, tick=6)
    again = Conversations.from_state(book.to_state())
    assert again.to_state() == book.to_state() and again.count == 2
    assert again["c2"].participants == busy.participants and again["c1"].lines[0].text == "hello?"
