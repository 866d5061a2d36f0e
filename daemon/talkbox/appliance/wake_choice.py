"""The wake word the box listens for, switched at run time by Home Assistant's select.

TALKBOX_WAKE_WORD is the default. Home Assistant's "Wake word" select offers off, each
built-in model and each custom model the env file names (`talkbox.config.wake_word_choices`);
choosing one loads its detector off the event loop (TFLite takes milliseconds per model,
and the microphone's frames must keep flowing), then swaps it in on the loop between two
frames and closes the old one. Nothing else moves: no event is posted, so the conversation,
the LED and a turn in progress are untouched, and nothing reaches the link. A detector only
opens a turn as a tap does, in the LED's sight, and never while muted; HA's Talk button can
already open a turn itself, so letting HA turn the wake word on gives it nothing more.

The choice is kept in the state dir (`wake_word.json`, written as the mute is) with the
env file's setting it was made against: a later edit of the env file wins over an older
choice. A stored choice the box no longer offers (its model gone from the env file or the
disk) is set aside as `wake_word.json.rejected` with one WARNING, and the env file's is used.
Without Home Assistant the select does not exist and the env file's setting is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

from talkbox.appliance.parts import Parts, wake_detector
from talkbox.config import BUILTIN_WAKE_WORDS, Settings, wake_word_choices, wake_words_label
from talkbox.errors import ConfigError
from talkbox.ports import WakeWords
from talkbox.state_file import set_aside, write_json

log = logging.getLogger(__name__)

FILE_NAME: Final = "wake_word.json"
ENV_FILE: Final = "the env file"
"""Who chose the wake word in use, when nobody changed it."""


@dataclass(frozen=True, slots=True)
class Choice:
    """A wake word choice as stored: the words, and the env file's setting it was made against."""

    words: tuple[str, ...]
    """TALKBOX_WAKE_WORD's form: built-in names and model paths; () is off."""
    env: tuple[str, ...]


class WakeWordStore:
    """Reads and writes `wake_word.json` in the state dir (atomically: `talkbox.state_file`)."""

    def __init__(self, directory: Path) -> None:
        """Keep the choice in `directory` (made on the first save)."""
        self.path = directory / FILE_NAME

    def load(self, choices: dict[str, tuple[str, ...]], env: tuple[str, ...]) -> Choice | None:
        """The stored choice if it still stands; None: the env file's setting is used."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("cannot read %s (%s); using TALKBOX_WAKE_WORD", self.path, exc.strerror)
            return None
        try:
            data = json.loads(text)
            choice = Choice(words=_words(data["words"]), env=_words(data["env"]))
        except (ValueError, KeyError, TypeError) as exc:
            self.reject(f"is damaged ({exc})", env)
            return None
        if choice.env != env:
            # The person edited the env file after choosing in HA: the newer word wins.
            log.info(
                "TALKBOX_WAKE_WORD changed since Home Assistant chose %s; using the env file's %s",
                wake_words_label(choice.words),
                wake_words_label(env),
            )
            with contextlib.suppress(OSError):
                self.path.unlink()
            return None
        gone = [w for w in choice.words if w not in BUILTIN_WAKE_WORDS and not Path(w).is_file()]
        if choice.words not in choices.values() or gone:
            why = f"its model {gone[0]} is gone" if gone else "it is no longer offered"
            self.reject(f"chooses {wake_words_label(choice.words)}, but {why}", env)
            return None
        return choice

    def reject(self, why: str, env: tuple[str, ...]) -> None:
        """Set the stored choice aside, with one WARNING saying why."""
        rejected = set_aside(self.path)
        log.warning(
            "%s %s; set aside as %s, using TALKBOX_WAKE_WORD (%s)",
            self.path,
            why,
            rejected.name,
            wake_words_label(env),
        )

    def save(self, choice: Choice) -> bool:
        """Store the choice; False (logged) if it could not be."""
        value = {"words": list(choice.words), "env": list(choice.env)}
        return write_json(self.path, value, what="the wake word")


def _words(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(word, str) for word in value):
        raise TypeError("not a list of wake words")
    return tuple(value)


class WakeWordChoice:
    """The wake word in use on `parts`, switched at run time; an async context manager."""

    def __init__(self, settings: Settings, parts: Parts) -> None:
        """Listen as `settings` say; with Home Assistant on, its select and a stored choice."""
        self._settings = settings
        self._parts = parts
        self.offered = offered = settings.home_assistant == "esphome"
        """Whether HA's select exists (and so whether a stored choice counts)."""
        self.choices = wake_word_choices(settings.wake_word) if offered else {}
        """The select's options, each with the words it stands for (empty: not offered)."""
        self.words: tuple[str, ...] = settings.wake_word
        """The words the box listens for now."""
        self.chosen_by = ENV_FILE
        """Who chose them: the env file, or Home Assistant (and from where)."""
        self._store = WakeWordStore(settings.state_dir)
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._made: WakeWords | None = None
        """The detector this object loaded and must close (the first is `hearing()`'s)."""

    @property
    def label(self) -> str:
        """The words in use, as the select and `ctl status` write them."""
        return wake_words_label(self.words)

    async def __aenter__(self) -> Self:
        """Listen for the stored choice, if one stands (before READY=1)."""
        env = self._settings.wake_word
        stored = self._store.load(self.choices, env) if self.offered else None
        if stored is not None and stored.words != env:
            try:
                await self._switch(stored.words)
            except ConfigError as err:
                self._store.reject(f"cannot be loaded ({'; '.join(err.problems)})", env)
            else:
                self.chosen_by = "Home Assistant"
                log.info(
                    "wake word: %s, as chosen in Home Assistant (TALKBOX_WAKE_WORD: %s)",
                    self.label,
                    wake_words_label(env),
                )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop switching; close the detector this object loaded."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._made is not None:
            self._made.close()
            self._made = None

    def choose(self, option: str, who: str, done: Callable[[], None] | None = None) -> bool:
        """Switch to the select's `option` (in the background); False: not an option.

        `done` is called once the switch is over, whether it was made or failed.
        """
        words = self.choices.get(option)
        if words is None:
            log.warning("%s chose the wake word %r, which is not offered; ignored", who, option)
            return False
        task = asyncio.get_running_loop().create_task(
            self._choose(words, who, done), name="wake-word-switch"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _choose(
        self, words: tuple[str, ...], who: str, done: Callable[[], None] | None
    ) -> None:
        try:
            async with self._lock:
                if words == self.words:
                    return
                before = self.label
                try:
                    await self._switch(words)
                except ConfigError as err:
                    log.warning(
                        "%s chose the wake word %s, which cannot be used: %s; still %s",
                        who,
                        wake_words_label(words),
                        "; ".join(err.problems),
                        before,
                    )
                    return
                self.chosen_by = who
                self._store.save(Choice(words=words, env=self._settings.wake_word))
                log.info("wake word: %s -> %s (chosen by %s)", before, self.label, who)
        finally:
            if done is not None:
                done()

    async def _switch(self, words: tuple[str, ...]) -> None:
        """Load `words`' detector off the loop, then swap it in and close the old one."""
        new = await self._load(words) if words else None
        # On the loop, between two frames: the control task reads parts.wake per frame.
        old, self._parts.wake = self._parts.wake, new
        self.words = words
        self._made = new
        if old is not None:
            old.close()  # hearing()'s own close at the end is then a no-op

    async def _load(self, words: tuple[str, ...]) -> WakeWords:
        loop = asyncio.get_running_loop()
        load = partial(wake_detector, self._settings, words, quiet=True)
        loading = loop.run_in_executor(None, load)
        try:
            return await asyncio.shield(loading)
        except asyncio.CancelledError:
            # The thread finishes anyway: what it loaded is closed, not leaked.
            loading.add_done_callback(_close_loaded)
            raise


def _close_loaded(loading: asyncio.Future[WakeWords]) -> None:
    if not loading.cancelled() and loading.exception() is None:
        loading.result().close()
