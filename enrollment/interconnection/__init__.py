"""Interconnection: the one application installer, utility and AHJ share, its screens, SLA
clocks, documents, deficiencies, messages and PTO. Sits above enrollment programs (it imports
them; they never import it)."""
