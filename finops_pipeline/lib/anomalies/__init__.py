"""Cost anomaly detection with a plain Python API (no Dagster): ``detect(series, **params)``."""

from finops_pipeline.lib.anomalies.detector import DetectorParams, ScoredMatrix, detect, score_matrix
from finops_pipeline.lib.anomalies.drilldown import detect_with_drilldown

__all__ = ["DetectorParams", "ScoredMatrix", "detect", "detect_with_drilldown", "score_matrix"]
