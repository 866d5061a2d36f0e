"""The daemon: the appliance, its parts, status, tools, control socket, mute and systemd.

Import-light on purpose: `talkbox ctl` imports `talkbox.appliance.control`, which must not
load google-genai or the audio libraries.
"""
