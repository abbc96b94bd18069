"""Billing pages, one module per area: tariffs (rates), meter (meter), impact (the program
dashboard and the customer statement) and settlement (runs, review, exports, disputes)."""
