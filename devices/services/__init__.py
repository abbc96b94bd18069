"""Device writes, one module per seam: ``vehicles`` (registration, updates, the driver's
preferences), ``opt_outs``, ``commands`` (the command queue: issue, pull, acknowledge) and
``errors`` (their refusals). Import from those modules."""
