"""LOG_LEVEL and LOG_FORMAT for the project's own loggers (``finops_pipeline.*``)."""

from __future__ import annotations

import json
import logging

from finops_pipeline.settings import Settings

ROOT_LOGGER = "finops_pipeline"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


def configure_logging(settings: Settings) -> logging.Logger:
    logger = logging.getLogger(ROOT_LOGGER)
    logger.setLevel(settings.log_level)
    handler = next((h for h in logger.handlers if getattr(h, "finops", False)), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler.finops = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
    handler.setFormatter(
        JsonFormatter()
        if settings.log_format == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    return logger
