"""When an answer under way must have ended: the bounded waits that keep the link unhung.

An answer ends at interactionStatus IDLE, else at turnComplete (`talkbox.live.messages`).
A server that never says "done", or says it in words we do not know, must not hang the
link (docs/live-models.md §4), so after every piece of an answer that does not end it the
ledger (`talkbox.live.turns`) keeps the time its end is due by, from `end_due` here, and
the link fails a turn still unanswered then. Pure: the time is given.
"""

from __future__ import annotations

from talkbox.audio.format import ANSWER_RATE_HZ, seconds
from talkbox.live.messages import IN_PROGRESS, ContentRead

# Silence mid-answer, before generationComplete:
ANSWER_SILENCE_S = 30.0
# After generationComplete, 3.8 paces turnComplete to the answer's playback: the end is due
# when the answer would have finished playing, plus this.
END_GRACE_S = 10.0
# After a filler's turnComplete + IN_PROGRESS extended thinking reasons on; field reports
# saw its tool calls 7-31 s later.
IN_PROGRESS_WAIT_S = 60.0


def end_due(
    content: ContentRead,
    now: float,
    *,
    generated: bool,
    first_audio_at: float | None,
    answer_bytes: int,
) -> tuple[float, str]:
    """(when the answer must have ended by, what it waits after) once `content` came at `now`.

    `generated`, `first_audio_at` and `answer_bytes` describe the answer so far, `content`
    included: after generationComplete the end is due when its audio would have played.
    """
    if content.goes_on and content.status == IN_PROGRESS:
        due, after = now + IN_PROGRESS_WAIT_S, "interactionStatus IN_PROGRESS, then nothing"
    elif content.goes_on:
        due, after = now + END_GRACE_S, f"turnComplete with interactionStatus {content.status}"
    else:
        due, after = now + ANSWER_SILENCE_S, "the answer stopped before generationComplete"
    if generated:
        # The paced turnComplete is due when the answer would have finished playing.
        played = (first_audio_at or now) + seconds(answer_bytes, ANSWER_RATE_HZ)
        if not content.goes_on:
            due, after = max(now, played) + END_GRACE_S, "generationComplete, then no end"
    return due, after
