"""Keras's ``preprocessing`` helpers: ``nnguru.preprocessing.sequence.pad_sequences``."""

from nnguru.preprocessing import sequence
from nnguru.preprocessing.sequence import pad_sequences

__all__ = ["pad_sequences", "sequence"]
