"""Settings from the environment and `.env`, validated once at start-up (see read_receipts.settings)."""

from read_receipts.settings import (
    SETTINGS,
    ConfigError,
    Setting,
    Settings,
    hand_down,
    load_settings,
    load_settings_or_exit,
)

__all__ = ["SETTINGS", "ConfigError", "Setting", "Settings", "hand_down", "load_settings", "load_settings_or_exit"]
