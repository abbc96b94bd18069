"""Incentive pages under /u/<utility_slug>/incentives/, one module per area: the approval
queue (incentives), the budget dashboard, the ledger, payout batches, disputes and offers.

Objects are looked up through the scoped default managers, so another utility's id is a 404
without any check here. Refused actions (someone decided first, the budget ran out) come back
as a message on the page, never as an error page.
"""
