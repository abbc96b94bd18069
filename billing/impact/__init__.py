"""Program impact on a customer's bill (settle):

* ``counterfactual`` — charging sessions and the unmanaged charging that would have happened
  (pure Python);
* ``aggregation`` — the month's interval rows grouped in PostgreSQL by account and TOU period
  (program behaviour and counterfactual side by side);
* ``bills`` — the few aggregates through the tariff engine's ``bill_month``, into the figures
  of a settlement line.
"""
