"""The running node: configuration, aiohttp application, delivery engine and CLI."""

__version__ = "0.2.0"
