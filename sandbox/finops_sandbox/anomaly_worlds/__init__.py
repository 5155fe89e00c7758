"""Labelled worlds for the anomaly evaluation (``bench/anomaly_eval.py``), outside the product.

- ``recurrence_traps``: family A's recurring-pattern series, beside a sandbox world
  (``world_series``: the world's own series, labels and AWS's anomalies from the emulator);
  the detector's parameters may be chosen on its tuning seeds 11-15;
- ``holdout_family``: family B, written independently (it imports neither ``recurrence_traps`` nor
  ``finops_sandbox.world``), only ever measured;
- ``labelled``: the frames both hand the scorer.
"""
