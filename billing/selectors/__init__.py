"""Billing reads, one module per area: ``meter`` (premise and EV interval data, imports),
``premise_relief`` (the premise meter data dispatch's V2H M&V reads),
``impact`` (dashboard and statement figures), ``settlement`` (runs, lines, version diff, exports)."""
