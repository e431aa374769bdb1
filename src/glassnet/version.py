"""The version of glassnet, in one place; it imports nothing."""

__version__ = "0.1.0"
