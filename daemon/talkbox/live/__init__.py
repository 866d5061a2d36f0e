"""The Gemini side: the Live link, resumption handles and local tools.

`link.LiveLink` is the conversation across connections. While a connection is open, its
send, receive and watch tasks are a `connection.Connection`, which reaches the link only
through a `LinkSide`; what each connection's start and end mean for the next (the wait, the
turns it leaves) is the `judge.Judge`'s, which sees the link as a `JudgeSide`. The rest is
pure or nearly so: one turn in `turn`, the turn ledger in
`turns` (with the outbox in `outbox`), failure classification in `failures`, backoff, outage
and the resume probe in `backoff`, when to leave a connection (GoAway, idle) in `goaway`,
the conversation's identity in `handles`, the reading of server messages in `messages`, the
events it emits in `events`, and the wording of events and log lines in `report`. The link
feeds them what happened and when, and hands their facts to the report.
"""
