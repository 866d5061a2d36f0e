"""Timers and alarms that ring on the box, whatever the network does.

`table` is the pure timer table (the clock passed in), `store` keeps it in the state dir,
`service` rings what falls due, `tools` are what the model calls, `ring` is the ring's tone.
"""
