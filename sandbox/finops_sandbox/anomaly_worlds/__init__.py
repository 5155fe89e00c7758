"""Labelled worlds for the anomaly evaluation (``bench/anomaly_eval.py``), outside the product.

- ``recurrence_traps``: family A's recurring-pattern series, beside a sandbox world
  (``world_series``: the world's own series, labels and AWS's anomalies from the emulator);
  the detector's parameters may be chosen on its tuning seeds 11-15;
- ``holdout_family``: family B, written independently (it imports neither ``recurrence_traps`` nor
  ``finops_sandbox.world``), only ever measured;
- ``realistic_family`` (+ ``realistic_calendar``): family C, written apart from A and B (regional
  holidays of India, Japan, Australia, follower series, planned migrations, 16 anomaly kinds): the
  event classifier's second tuning family (seeds 11-40 fitted on, 1-5 reported);
- ``bottom_up_family`` (+ ``bottom_up_*``): family D, costs built bottom-up from line items
  (fleets, cron jobs, tiers, support and tax on the month's spend, 25 anomaly kinds), written apart
  from the others: the validation family the classifier's settings were chosen on, never fitted on;
- ``labelled``: the frames they all hand the scorer.
"""
