"""Incentives: offers, applications and awards, the append-only ledger, payout batches and
disputes. Sits above enrollment programs (it imports them; they never import it)."""
