"""A small path table shared by the model tests: repeats, cycles, single-touch paths and a path that never converts."""

from __future__ import annotations

import pandas as pd

ROWS = [
    ("a > b > c", 10, 25.0, 30),
    ("b > a", 5, 12.0, 20),
    ("c", 2, 8.0, 40),
    ("a > a > c", 3, 6.0, 5),
    ("b > c > b > a", 4, 20.0, 10),
    ("a", 0, 0.0, 15),
    ("c > b", 1, 3.0, 9),
    ("a > b > a > b > c", 2, 9.0, 3),
    ("d > a", 1, 2.0, 4),
    ("b > b > b", 2, 5.0, 6),
    ("d", 0, 0.0, 7),
]


def table() -> pd.DataFrame:
    return pd.DataFrame(ROWS, columns=["path", "total_conversions", "total_conversion_value", "total_null"])
