"""The SDK version sent with every batch."""

__version__ = "0.1.0"
