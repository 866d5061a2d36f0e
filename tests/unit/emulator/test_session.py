"""SessionMemory memory: token counts, compression, handles and their expiry."""

from __future__ import annotations

import base64
import random
import time

from talkbox.emulator import Emulator, EmulatorOptions
from talkbox.emulator.session import (
    HandleStore,
    Session,
    SessionMemory,
    Tokens,
    TurnRecord,
    audio_tokens,
    setup_tokens,
    text_tokens,
)


def test_text_costs_a_token_per_four_characters_and_audio_its_rate() -> None:
    assert text_tokens("") == 0
    assert text_tokens("abcd") == 1
    assert text_tokens("abcde") == 2
    assert audio_tokens(1.0, 25.0) == 25
    assert audio_tokens(0.5, 25.0) == 13
    assert audio_tokens(0.0, 25.0) == 0


def test_system_instruction_and_tools_are_counted_at_setup() -> None:
    bare = setup_tokens({"model": "m"})
    with_instruction = setup_tokens(
        {"systemInstruction": {"parts": [{"text": "x" * 40}]}, "tools": [{"googleSearch": {}}]}
    )
    assert bare.total == 0
    assert with_instruction.text > 10


def test_usage_details_split_by_modality() -> None:
    assert Tokens(text=3, audio=7).details() == [
        {"modality": "TEXT", "tokenCount": 3},
        {"modality": "AUDIO", "tokenCount": 7},
    ]
    assert Tokens(audio=5).details() == [{"modality": "AUDIO", "tokenCount": 5}]


def conversation(turns: int, each: int = 100) -> SessionMemory:
    conv = SessionMemory(base=Tokens(text=50))
    conv.history = [
        TurnRecord(n, Tokens(audio=each // 2), Tokens(audio=each // 2)) for n in range(1, turns + 1)
    ]
    conv.turns = turns
    return conv


def test_compression_does_nothing_below_the_trigger() -> None:
    conv = conversation(5)
    assert conv.compress(Tokens(text=10), trigger=1000, target=500) == []
    assert len(conv.history) == 5


def test_compression_drops_the_oldest_whole_turns_down_to_the_target_and_keeps_the_prefix() -> None:
    conv = conversation(10)  # 50 + 1000
    dropped = conv.compress(Tokens(text=20), trigger=900, target=450)
    assert dropped == [1, 2, 3, 4, 5, 6, 7]
    assert (conv.context() + Tokens(text=20)).total <= 450
    assert conv.base == Tokens(text=50)
    assert [t.number for t in conv.history] == [8, 9, 10]
    assert conv.dropped_turns == 7


def test_a_handle_snapshots_the_conversation_at_issue_time() -> None:
    store = HandleStore(random.Random(1), lifetime=7200)
    session = Session(1, "k", "m", conversation(2))
    handle = store.issue(session)
    session.conversation.turns = 9
    found = store.lookup(handle)
    assert found is not None
    assert found[0] is session
    assert found[1].turns == 2
    raw = base64.urlsafe_b64decode(handle + "=" * (-len(handle) % 4))
    assert raw[0] == 0x0A
    assert raw[1] == len(raw) - 2 == 40


def test_handles_live_while_connected_and_expire_after_the_last_close() -> None:
    store = HandleStore(random.Random(1), lifetime=10)
    session = Session(1, "k", "m", SessionMemory())
    session.open_connections.add(1)
    handle = store.issue(session)
    assert store.lookup(handle, now=10_000) is not None
    session.open_connections.clear()
    session.last_closed = 100.0
    assert store.lookup(handle, now=109.0) is not None
    assert store.lookup(handle, now=111.0) is None
    assert store.lookup("unknown-handle") is None


def test_expiring_all_handles_rejects_the_old_but_not_new_ones() -> None:
    store = HandleStore(random.Random(1), lifetime=10)
    session = Session(1, "k", "m", SessionMemory())
    old = store.issue(session)
    assert store.expire_all() == 1
    new = store.issue(session)
    assert store.lookup(old) is None
    assert store.lookup(new) is not None
    assert old != new


def test_only_the_newest_handles_of_a_session_are_kept() -> None:
    store = HandleStore(random.Random(1), lifetime=10, per_session=3)
    session = Session(1, "k", "m", SessionMemory())
    other = Session(2, "k", "m", SessionMemory())
    handles = [store.issue(session) for _ in range(5)]
    kept = store.issue(other)
    assert [store.lookup(h) is not None for h in handles] == [False, False, True, True, True]
    assert store.lookup(kept) is not None
    assert len(store) == 4


def test_sessions_whose_handles_expired_are_forgotten_with_their_handles() -> None:
    emulator = Emulator(EmulatorOptions(handle_lifetime_s=10.0))
    old = emulator.new_session("k", "m", SessionMemory())
    live = emulator.new_session("k", "m", SessionMemory())
    open_one = emulator.new_session("k", "m", SessionMemory())
    handle = emulator.handles.issue(old)
    now = time.monotonic()
    old.last_closed = now - 11
    live.last_closed = now - 9
    open_one.open_connections.add(3)
    assert emulator.prune_sessions(now) == 1
    assert set(emulator.sessions) == {live.id, open_one.id}
    assert emulator.handles.lookup(handle) is None
    assert len(emulator.handles) == 0
    # Ids stay unique after pruning.
    assert emulator.new_session("k", "m", SessionMemory()).id == 4
    emulator.log.close()
