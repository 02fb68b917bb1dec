"""vulnsweep: a fast, asyncio-concurrent Python dependency vulnerability scanner."""

__version__ = "0.1.0"
