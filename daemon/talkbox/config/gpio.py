"""The GPIO area: the button and the LED, by HAT preset or by pin."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator
from pydantic_settings import NoDecode

from talkbox.config.fields import Area, LowerCase, Problem, setting

HAT_NAMES = ("aiy-voice-v1", "respeaker-2mic", "custom")
"""The HAT presets (their pins live in talkbox.gpio.HATS)."""


def _pins(value: object) -> object:
    # "17" or "17,27,22": systemd env files have no lists, so pins are comma-separated.
    if isinstance(value, str):
        parts = [part.strip() for part in value.split(",")]
        if not all(part.lstrip("-").isdigit() for part in parts):
            raise Problem("is not a comma-separated list of GPIO numbers")
        # A number outside 0..53 is no GPIO: said here, so the kind's count is not blamed.
        outside = [part for part in parts if not 0 <= int(part) <= 53]
        if outside:
            which = ", ".join(outside) + (f" in {','.join(parts)}" if len(parts) > 1 else "")
            are = "is not a BCM GPIO number" if len(outside) == 1 else "are not BCM GPIO numbers"
            raise Problem(f"{which} {are} (0 to 53)", show_input=False)
        return tuple(int(part) for part in parts)
    return value


Pins = Annotated[tuple[int, ...] | None, NoDecode, BeforeValidator(_pins)]
"""LED_PINS: one pin, or red,green,blue."""

_NO_RESISTOR = {"button_pull": "none"}


class GpioFields(Area):
    """GPIO: the push button and the LED (HAT preset, pins, wiring, timing)."""

    hat: Annotated[Literal["aiy-voice-v1", "respeaker-2mic", "custom"], LowerCase] = setting(
        "custom",
        doc="A known HAT fills in its button and LED pins: aiy-voice-v1 (button GPIO23, LED "
        "GPIO25), respeaker-2mic (button GPIO17; its LEDs are on SPI and not driven); custom: "
        "only the pins below.",
        allowed="aiy-voice-v1, respeaker-2mic or custom",
    )
    button_pin: int | None = setting(
        doc="BCM GPIO number of the push button. Empty: the HAT's, else no button.",
        allowed="a BCM GPIO number, 0 to 53",
        ge=0,
        le=53,
    )
    button_pull: Annotated[Literal["up", "down", "none"], LowerCase] = setting(
        "up",
        doc="The button's resistor: up (internal pull-up, button to ground), down (internal "
        "pull-down, button to 3.3 V) or none (an external resistor: set BUTTON_ACTIVE_HIGH).",
        allowed="up, down or none",
    )
    button_active_high: bool | None = setting(
        doc="With BUTTON_PULL=none: whether a pressed button reads high.",
        allowed="true/false",
        applies_when=_NO_RESISTOR,
    )
    button_bounce_ms: int = setting(
        30,
        doc="Edges this soon after the previous one are contact bounce.",
        allowed="milliseconds, 0 to 200",
        ge=0,
        le=200,
    )
    long_press_s: float = setting(
        2.0,
        doc="Holding the button this long (without speaking) starts a new conversation.",
        allowed="seconds, 0.3 to 10",
        ge=0.3,
        le=10.0,
    )
    double_press_s: float = setting(
        0.4,
        doc="A second press this soon after the first toggles the privacy mute.",
        allowed="seconds, above the bounce time, at most 1",
        gt=0.0,
        le=1.0,
    )
    led_kind: Annotated[Literal["led", "pwm", "rgb"] | None, LowerCase] = setting(
        doc="led: one pin, on/off; pwm: one pin with brightness and pulsing; rgb: three pins. "
        "Empty: the HAT's, else led.",
        allowed="led, pwm or rgb",
    )
    led_pins: Pins = setting(
        doc="BCM GPIO number(s) of the LED: one pin, or red,green,blue for rgb. Empty: the "
        "HAT's, else no LED.",
        allowed="GPIO numbers 0 to 53, comma-separated",
    )
    led_active_high: bool = setting(
        True,
        doc="False for an LED wired between the pin and 3.3 V (lit when the pin is low).",
        allowed="true/false",
    )
    led_brightness: float = setting(
        1.0,
        doc="Brightness of steady PWM and RGB patterns.",
        allowed="above 0, at most 1",
        gt=0.0,
        le=1.0,
    )

    def unmet_needs(self) -> list[str]:
        """Wiring gpiozero cannot read stops the daemon: the button would never work."""
        problems: list[str] = []
        if self.button_pull == "none" and self.button_active_high is None:
            problems.append(
                "TALKBOX_BUTTON_ACTIVE_HIGH: is needed with TALKBOX_BUTTON_PULL=none (an "
                "external resistor); allowed: true/false"
            )
        if self.double_press_s <= self.button_bounce_ms / 1000:
            problems.append(
                "TALKBOX_DOUBLE_PRESS_S: must be above TALKBOX_BUTTON_BOUNCE_MS; allowed: "
                "seconds, above the bounce time, at most 1"
            )
        if self.led_pins is not None:
            wanted = 3 if self.led_kind == "rgb" else 1
            if len(self.led_pins) != wanted:
                kind = self.led_kind or "led"
                count = len(self.led_pins)
                problems.append(
                    f"TALKBOX_LED_PINS: {','.join(map(str, self.led_pins))} is {count} "
                    f"pin{'s' if count != 1 else ''}, and TALKBOX_LED_KIND={kind} takes {wanted}; "
                    f"allowed: {'red,green,blue' if wanted == 3 else 'one'} GPIO number"
                    f"{'s' if wanted != 1 else ''} 0 to 53"
                )
        return problems
