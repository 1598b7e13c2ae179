"""Associative-embedding decoder: network outputs to people."""
from .config import DecoderConfig
from .fast import decode

__all__ = ["DecoderConfig", "decode"]
