"""Incentives: offers, applications, the append-only ledger, payout batches and disputes."""

from __future__ import annotations
