"""wapipe: event-sourced stream processing for WhatsApp Business marketing."""

__version__ = "0.1.0"
