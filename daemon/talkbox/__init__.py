"""talkbox: press a button, speak, and hear Gemini answer."""

__version__ = "0.1.0"
