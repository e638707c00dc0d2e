"""Limits a wallet enforces itself, so that no race between requests can exceed them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DailyLimit:
    """How much, and how many times, a user wallet may send in one day."""

    max_amount: int  # minor units
    max_count: int
