"""Dialogue: open a conversation, speak one turn at a time, and remember what was said.

Each turn is generated for the speaker alone, with memories retrieved for the partner and the
last lines (as in Park et al. 2023), plus what the speaker has to tell (its news, plans and
invitations: ``news_k`` memories, setting ``[mind] news_k``), so what one agent knows can reach
another. With ``[mind] turn_topic`` each line but the last is also given one thing to bring up
(:func:`topics`: the best of the speaker's thoughts for the news query that the conversation has not
said yet and that names no partner; a line asked again gets the next one), counted ``conversation_topic``.
A conversation is not ended by the model before ``min_conversation_lines`` lines (the
small model ends at once otherwise), and with ``[mind] answer_questions`` not right after the speaker asked
a question (the partner answers first); a line where the speaker also writes the partner's reply is
cut there. With ``[mind] talk_transcripts = false`` a speaker's memories leave out earlier
transcripts (their summaries and what was told stay): the small model otherwise opens with a line it
said to the same partner before. The partner's words are data: templates render them only through
the ``quote`` filter.

When a conversation ends, :func:`summarize_and_store` stores the transcript (``chat``), a
summary (``thought``), one ``thought`` per event / plan / invitation mentioned (that is how a
party invitation spreads through town) and how I feel about the partner. With ``[mind] shared_digest``
the conversation is summarised once for both people (``converse_digest``: a neutral summary, the events,
each person's feeling, one importance): the first of them to get there asks, the other awaits the same
answer (counted as ``digest_shared``). The prompt names no one's persona, so whoever asks, the request
(and its cached answer) is the same; only which agent the call is booked to may differ.
"""

from __future__ import annotations

import asyncio
import difflib
import re

from pydantic import Field

from agents.context import MindContext, ask
from agents.memory.records import MEMORY_KINDS
from agents.step_registry import register_step
from agents.steps.react import record_chat
from agents.schemas import ConversationSummary, Event, Importance, Utterance, digest_schema
from town.world.protocol import Action, ChatLine, ConversationView, Observation

OPEN_STEP = "converse_open"
TURN_STEP = "converse_turn"
SUMMARY_STEP = "converse_summary"
DIGEST_STEP = "converse_digest"
MEMORIES_K = 5
CHAT_EMOJI = "\U0001f4ac"

#: what the speaker looks for in its own memories to tell the partner
NEWS_QUERY = "news, plans, events, parties and invitations I could tell {partner} about"

#: a speaker's memories without earlier transcripts ([mind] talk_transcripts = false)
NO_TRANSCRIPTS = set(MEMORY_KINDS - {"chat"})

register_step(OPEN_STEP, {"obs", "target", "target_activity", "reason", "memories", "news"})
register_step(TURN_STEP, {"obs", "partner", "memories", "lines", "last_turn", "news", "may_end", "rejected",
                          "chat_turns", "topic", "rejected_why"})
register_step(SUMMARY_STEP, {"partner", "lines"})
register_step(DIGEST_STEP, {"participants", "lines"})

#: what a shared digest call returns when every attempt failed (each person then uses their own fallback)
_NO_DIGEST = object()


class ChatDigest(ConversationSummary):
    """A conversation summary that also lists the events mentioned and rates the conversation."""

    events: list[Event] = Field(default_factory=list, max_length=3, description="events, plans or invitations mentioned")
    importance: Importance


def _partners(ctx: MindContext, conv: ConversationView) -> list[str]:
    return [p for p in conv.participants if p != ctx.name]


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def clean_utterance(text: str, speaker: str, partners: list[str] | None = None) -> str:
    """Drop a leading 'Name:', wrapping quotes and echoed quote delimiters that small models add to a line,
    and cut the line where the speaker goes on to write a partner's reply ('... Klaus: Sure!')."""
    text = " ".join(re.sub(r"<<<|>>>", " ", text).split())
    for prefix in (speaker, speaker.split()[0], *(p for o in partners or [] for p in (o, o.split()[0]))):
        if text.lower().startswith(prefix.lower() + ":"):  # a label, even a wrong one: the words are the speaker's
            text = text[len(prefix) + 1 :].strip()
            break
    for other in partners or []:
        for name in (other, other.split()[0]):
            cut = re.search(rf"(^|\s){re.escape(name)}:", text, re.IGNORECASE)
            if cut:
                text = text[: cut.start()].strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text


def _activity_of(obs: Observation, name: str) -> str:
    agent = next((a for a in obs.nearby if a.name == name), None)
    return agent.activity if agent else "nearby"


def _about(ctx: MindContext, query: str, obs: Observation) -> list[str]:
    """The speaker's ``MEMORIES_K`` memories for ``query``; earlier transcripts only with ``talk_transcripts``."""
    kinds = None if ctx.settings.talk_transcripts else NO_TRANSCRIPTS
    return [m.record.text for m in ctx.memory.retrieve(query, now=obs.time, k=MEMORIES_K, kinds=kinds)]


#: memories a speaker looks through for something to tell with ``[mind] turn_topic``
TOPIC_K = 6
#: words too common to tell whether a topic was already said
_COMMON = frozenset("about after also been before from have just like that their them then there they this what "
                    "when where which will with would your".split())


def _words(text: str) -> set[str]:
    return {w for w in _norm(text).split() if len(w) >= 4} - _COMMON


def covered(topic: str, lines: list[ChatLine]) -> bool:
    """Whether the conversation already said ``topic``: half or more of its words of four letters or more (common
    ones aside) were said by someone."""
    words = _words(topic)
    said = _words(" ".join(line.text for line in lines))
    return not words or len(words & said) * 2 >= len(words)


def topics(ctx: MindContext, obs: Observation, partners: list[str], lines: list[ChatLine]) -> list[str]:
    """``[mind] turn_topic``: my thoughts and reflections worth telling (``NEWS_QUERY``, best first) that the
    conversation has not said yet, that do not name a partner (what they told me, how I feel about them: they
    know it, or it is not for them) and that are not private (a persona's secret, or a reflection citing one)."""
    partner = ", ".join(partners)
    found = ctx.memory.retrieve(NEWS_QUERY.format(partner=partner), now=obs.time, k=TOPIC_K,
                                kinds={"thought", "reflection"})
    names = re.compile(r"\b(" + "|".join(re.escape(n) for p in partners for n in (p, p.split()[0])) + r")\b", re.I)
    return [m.record.text for m in found
            if not m.record.private and not names.search(m.record.text) and not covered(m.record.text, lines)]


def _news(ctx: MindContext, obs: Observation, partner: str, shown: list[str]) -> list[str]:
    """Up to ``news_k`` of my memories worth telling ``partner`` (news, plans, invitations), not already shown, not
    private."""
    if ctx.settings.news_k <= 0:
        return []
    found = ctx.memory.retrieve(NEWS_QUERY.format(partner=partner), now=obs.time, k=ctx.settings.news_k + len(shown),
                                kinds={"thought", "plan", "reflection"})
    return [m.record.text for m in found if m.record.text not in shown and not m.record.private][: ctx.settings.news_k]


async def start_conversation(ctx: MindContext, obs: Observation, target: str, reason: str) -> Action:
    """Open a conversation with ``target``: a talk Action carrying the opening line (with ``[mind] in_character``,
    an opening line that reads as an AI assistant's is replaced by a plain greeting, noted and counted)."""
    shown = _about(ctx, target, obs)
    fallback = Utterance(text=f"Hi {target.split()[0]}, how are you?")
    line = await ask(
        ctx,
        OPEN_STEP,
        fallback=fallback,
        obs=obs,
        target=target,
        target_activity=_activity_of(obs, target),
        reason=reason,
        memories=shown,
        news=_news(ctx, obs, target, shown),
    )
    if line is fallback:
        ctx.note("fallback", step=OPEN_STEP, agent=ctx.name, reason="no valid opening line", other=target)
    elif ctx.settings.in_character and out_of_character(line.text):
        ctx.count("conversation_out_of_character")
        ctx.note("fallback", step=OPEN_STEP, agent=ctx.name, reason="the opening line is an assistant's, not the "
                 "person's; a greeting instead", other=target, text=line.text)
        line = fallback
    record_chat(ctx, target, obs.time)
    return Action(
        agent=ctx.name,
        kind="talk",
        target=target,
        utterance=clean_utterance(line.text, ctx.name, [target]) or line.text,
        description=f"talking with {target}",
        emoji=CHAT_EMOJI,
    )


async def next_turn(ctx: MindContext, obs: Observation) -> Action:
    """My line in ``obs.conversation``; ends it when the model says so (from ``min_conversation_lines`` on)
    or at the turn cap. An end asked for earlier is not honoured, counted (``conversation_end_deferred``).

    A line that repeats or parrots an earlier one (small models do) is not said. With ``[mind]
    repeat_retries`` it is asked again, the speaker told what it was about to say (near copies count too);
    when every answer repeats, or at once without that setting, the conversation ends instead, noted and
    counted (``conversation_repetition``).
    """
    conv = obs.conversation
    if conv is None or conv.turn_of != ctx.name:
        raise ValueError(f"next_turn for {ctx.name}: not this agent's turn in a conversation")
    partner = ", ".join(_partners(ctx, conv))
    cap = min(conv.max_turns, ctx.settings.max_conversation_turns)
    base = Action(agent=ctx.name, kind="talk", target=partner, description=f"chatting with {partner}", emoji=CHAT_EMOJI)
    if len(conv.lines) >= cap:
        ctx.count("conversation_cap")
        return base.model_copy(update={"end_conversation": True})
    last_turn = len(conv.lines) + 1 >= cap
    may_end = len(conv.lines) + 1 >= ctx.settings.min_conversation_lines
    said = await _my_line(ctx, obs, conv, partner, last_turn=last_turn, may_end=may_end)
    if last_turn:
        ctx.count("conversation_cap")
    if said is None:
        return base.model_copy(update={"end_conversation": True})
    text, end, fell_back = said
    if end and not last_turn and not may_end and not fell_back:
        ctx.count("conversation_end_deferred")
        end = False
    if end and not last_turn and not fell_back and ctx.settings.answer_questions and asks(text):
        ctx.count("conversation_end_after_question")  # the partner answers first
        end = False
    return base.model_copy(update={"utterance": text, "end_conversation": end or last_turn})


async def _my_line(ctx: MindContext, obs: Observation, conv: ConversationView, partner: str, *, last_turn: bool,
                   may_end: bool) -> tuple[str, bool, bool] | None:
    """``(text, end, fell back)`` of my next line, or None when every answer repeated an earlier line."""
    query = " ".join([partner, *(line.text for line in conv.lines[-2:])])
    shown = _about(ctx, query, obs)
    news = _news(ctx, obs, partner, shown)
    told = [] if last_turn or not ctx.settings.turn_topic else topics(ctx, obs, _partners(ctx, conv), conv.lines)
    if told:
        ctx.count("conversation_topic")
    fallback = Utterance(text="Sorry, I have to go now. See you later!", end_conversation=True)
    retries = ctx.settings.repeat_retries
    rejected: list[str] = []
    why = "repeat"
    for attempt in range(retries + 1):
        topic = told[attempt] if attempt < len(told) else None  # a line asked again gets the next topic
        line = await ask(ctx, TURN_STEP, fallback=fallback, obs=obs, partner=partner, memories=shown, lines=conv.lines,
                         last_turn=last_turn, news=news, may_end=may_end, rejected=rejected, rejected_why=why,
                         chat_turns=ctx.settings.chat_turns, topic=topic)
        if line is fallback:
            ctx.note("fallback", step=TURN_STEP, agent=ctx.name, reason="no valid utterance", conversation=conv.id)
            return line.text, True, True
        text = clean_utterance(line.text, ctx.name, _partners(ctx, conv)) or line.text
        if ctx.settings.in_character and out_of_character(text):
            why = "out of character"
        elif repeats(text, conv.lines, near=retries > 0):
            why = "repeat"
        else:
            return text, line.end_conversation, False
        rejected.append(text)
        if len(rejected) <= retries:
            ctx.count("conversation_repeat_retries")
    counter, reason = REJECTED_LINE[why]
    ctx.count(counter)
    ctx.note("fallback", step=TURN_STEP, agent=ctx.name, reason=reason, conversation=conv.id, text=rejected[-1])
    return None


#: why a line was not said (the turn template's ``rejected_why``): its counter and the fallback note's reason
REJECTED_LINE = {
    "repeat": ("conversation_repetition", "the line repeats an earlier one; ending"),
    "out of character": ("conversation_out_of_character", "the line is an assistant's, not the person's; ending"),
}


#: a line at least this similar (difflib ratio, normalised words) to an earlier one is a near copy
NEAR_REPEAT_RATIO = 0.8


#: an AI assistant's refusal or self-description, which no townsperson says ([mind] in_character)
ASSISTANT_LINE = re.compile(
    r"\b(?:can(?:no|'|’)?t|unable to|not able to)\s+(?:assist\b|help(?:\s+you)?\s+with\s+(?:that|this)\b)"
    r"|\bhow (?:can|may) I (?:help|assist) you(?: today)?\s*[?.!]|\banything (?:else )?I can assist\b"
    r"|\banything else I can help\b|\bas an? (?:AI|artificial intelligence|language model|(?:AI|virtual) assistant)\b",
    re.IGNORECASE,
)


def out_of_character(text: str) -> bool:
    """Whether ``text`` reads as an AI assistant's refusal ("I'm sorry, but I can't assist with that.") or
    self-description ("As an AI, ..."), not as the person speaking."""
    return ASSISTANT_LINE.search(text) is not None


def asks(text: str) -> bool:
    """The line ends with a question to the partner."""
    return text.rstrip().rstrip("\"')»”").endswith("?")


def repeats(text: str, lines: list[ChatLine], *, near: bool = False) -> bool:
    """Whether ``text`` repeats an earlier line (anyone's) or parrots a longer one inside it; with ``near``, also
    whether it nearly copies one (``NEAR_REPEAT_RATIO``)."""
    said = _norm(text)
    for line in lines:
        earlier = _norm(line.text)
        if earlier and (said == earlier or (len(earlier) >= 20 and earlier in said)):
            return True
        if near and earlier and difflib.SequenceMatcher(None, said, earlier).ratio() >= NEAR_REPEAT_RATIO:
            return True
    return False


def _transcript(lines: list[ChatLine]) -> str:
    return "\n".join(f"{line.speaker}: {line.text}" for line in lines)


async def summarize_and_store(ctx: MindContext, conv: ConversationView) -> None:
    """Store the transcript and what I take away from it; note ``conversation_summary``."""
    if not conv.lines:
        ctx.count("conversation_empty")
        return
    partners = _partners(ctx, conv)
    partner = ", ".join(partners)
    when = conv.lines[-1].time
    heard = " / ".join(line.text for line in conv.lines if line.speaker != ctx.name)
    fallback = ChatDigest(summary=f"I talked with {partner}. They said: {heard}"[:300], importance=4)
    if ctx.settings.shared_digest:
        step, digest = DIGEST_STEP, await _shared_digest(ctx, conv, fallback)
    else:
        step = SUMMARY_STEP
        digest = await ask(ctx, SUMMARY_STEP, fallback=fallback, schema=ChatDigest, partner=partner, lines=conv.lines)
    if digest is fallback:
        ctx.note("fallback", step=step, agent=ctx.name, reason="no valid summary", conversation=conv.id)
    chat = ctx.memory.add(
        "chat",
        f"Conversation with {partner}:\n{_transcript(conv.lines)}",
        created=when,
        importance=digest.importance,
        keywords=partners,
    )
    ctx.memory.add("thought", digest.summary, created=when, importance=digest.importance,
                   evidence=(chat.id,), keywords=partners)
    for event in digest.events:
        ctx.memory.add("thought", f"{partner} told me: {event}", created=when,
                       importance=max(digest.importance, 6), evidence=(chat.id,), keywords=partners)
    if digest.relationship:
        ctx.memory.add("thought", f"How I feel about {partner}: {digest.relationship}", created=when,
                       importance=digest.importance, evidence=(chat.id,), keywords=partners)
    for other in partners:
        record_chat(ctx, other, when)
    ctx.note("conversation_summary", conversation=conv.id, partners=partners, summary=digest.summary,
             events=digest.events, relationship=digest.relationship)


async def _shared_digest(ctx: MindContext, conv: ConversationView, fallback: ChatDigest) -> ChatDigest:
    """``[mind] shared_digest``: this person's view of the conversation's one digest, asked by whichever
    participant gets here first and awaited by the others; ``fallback`` when every attempt failed."""
    people = tuple(conv.participants)
    entry = ctx.digests.get(conv.id)
    if entry is None:
        call = ask(ctx, DIGEST_STEP, fallback=_NO_DIGEST, schema=digest_schema(people), participants=list(people),
                   lines=conv.lines)
        entry = ctx.digests[conv.id] = {"answer": asyncio.ensure_future(call), "waiting": set(people)}
    else:
        ctx.count("digest_shared")
    entry["waiting"].discard(ctx.name)
    if not entry["waiting"]:
        del ctx.digests[conv.id]
    shared = await asyncio.shield(entry["answer"])
    if shared is _NO_DIGEST:
        return fallback
    feeling = next((f.feeling for f in shared.feelings if f.person == ctx.name), "")
    return ChatDigest(summary=shared.summary, events=list(shared.events), relationship=feeling,
                      importance=shared.importance)
