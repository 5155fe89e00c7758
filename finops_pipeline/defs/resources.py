"""The resources every domain shares, built once per load from the validated settings (no AWS call)."""

import dagster as dg

from finops_pipeline.config_resources import resources_for
from finops_pipeline.log_config import configure_logging
from finops_pipeline.settings import load_settings


@dg.definitions
def defs() -> dg.Definitions:
    settings = load_settings()
    configure_logging(settings)
    # In-process: the multiprocess executor costs seconds per step and DuckDB allows one writer.
    return dg.Definitions(resources=resources_for(settings), executor=dg.in_process_executor)
