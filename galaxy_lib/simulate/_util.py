"""Small helpers shared by the simulator: seeded random streams, ids, timestamps.

Identifiers are formatted with NumPy byte arrays rather than Python f-strings
because the bench world formats tens of millions of them; a per-row Python loop
would dominate the build time.
"""

from __future__ import annotations

import zlib

import numpy as np
import pyarrow as pa

__all__ = ["NS_PER_DAY", "NS_PER_HOUR", "NS_PER_WEEK", "format_ids", "rng_for", "scramble"]

NS_PER_HOUR = 3_600 * 10**9
NS_PER_DAY = 24 * NS_PER_HOUR
NS_PER_WEEK = 7 * NS_PER_DAY

_MASK48 = np.uint64((1 << 48) - 1)
_MULT = np.uint64(0x9E3779B97F4B)  # odd, so multiplication is a bijection modulo 2**48
_XOR = np.uint64(0x5DEECE66D1F3)


def rng_for(seed: int, stream: str, index: int = 0) -> np.random.Generator:
    """Independent generator for one named stream (and block ``index``) of a world seed.

    The stream name is hashed with CRC-32 (stable across Python runs, unlike ``hash``).
    """
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(stream.encode()), index]))


def scramble(x: np.ndarray) -> np.ndarray:
    """Bijective scramble of integers below 2**48 (odd multiply + XOR, modulo 2**48).

    Event ids are built from a block-local counter; scrambling keeps them unique
    while hiding the block (and therefore the customer group) an event came from.
    """
    x = np.asarray(x, dtype=np.uint64)
    if x.size and int(x.max()) >= 1 << 48:
        raise ValueError("scramble() takes integers below 2**48.")
    return ((x * _MULT) & _MASK48) ^ _XOR


def format_ids(prefix: str, values: np.ndarray, width: int) -> pa.Array:
    """Format non-negative integers as ``prefix`` + zero-padded decimal digits (a pyarrow string array).

    Parameters
    ----------
    prefix
        ASCII prefix, e.g. ``"C"``.
    values
        Non-negative integers with at most ``width`` digits.
    width
        Number of digits.
    """
    v = np.asarray(values, dtype=np.uint64)
    if v.size and int(v.max()) >= 10**width:
        raise ValueError(f"format_ids: value {int(v.max())} does not fit in {width} digits.")
    p = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    out = np.empty((v.size, len(p) + width), dtype=np.uint8)
    out[:, : len(p)] = p
    rest = v.copy()
    for k in range(width - 1, -1, -1):
        out[:, len(p) + k] = (rest % np.uint64(10)).astype(np.uint8) + ord("0")
        rest //= np.uint64(10)
    fixed = out.view(f"S{len(p) + width}").ravel()
    return pa.array(fixed, type=pa.binary(len(p) + width)).cast(pa.string())
