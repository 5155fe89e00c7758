"""Cost anomaly detection with a plain Python API (no Dagster): ``detect(series, **params)``."""

from finops_pipeline.anomalies.detector import DetectorParams, ScoredMatrix, detect, score_matrix

__all__ = ["DetectorParams", "ScoredMatrix", "detect", "score_matrix"]
