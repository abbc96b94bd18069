"""Customers of a utility (service accounts), on the ground floor so that devices,
enrollment and billing can all refer to them. Nothing here imports those apps: what they
add to a customer's page arrives through ``portal.customers.signals``."""
