"""Dispatch writes, one module per seam: ``events`` (scheduling behind the guardrails, its
targets, cancel / end early / extend), ``groups`` (dispatch groups), ``grid_sources`` (the
OpenADR sources and routes the grid signal pages manage), ``grid_messages`` (the protocol
message log and a source's health, for every protocol) and ``errors`` (their refusals).
Import from those modules."""
