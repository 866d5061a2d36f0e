"""Home Assistant: the box as an ESPHome device in the home, and Assist as the model's tool.

`bridge` serves the ESPHome native API (`server`, its framing in `wire`, the entities in
`entities`) and advertises it on mDNS (`mdns`); `assist` is the tool that hands a spoken home
request to Home Assistant's conversation API. Off unless TALKBOX_HOME_ASSISTANT=esphome or
TALKBOX_HOME_ASSISTANT_URL says otherwise (docs/home-assistant.md).
"""
