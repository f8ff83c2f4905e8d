"""Flint: a self-hostable backend for personal finance and investing."""

__version__ = "0.1.0"
