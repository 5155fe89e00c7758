"""Resources every domain shares, built from the validated settings (no AWS call at load time)."""

import dagster as dg

from finops_pipeline.aws_session import AwsResource
from finops_pipeline.log_config import configure_logging
from finops_pipeline.settings import Settings, load_settings
from finops_pipeline.warehouse import WarehouseResource


def build_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    return {
        "aws": AwsResource.from_settings(settings),
        "warehouse": WarehouseResource(
            database=str(settings.duckdb_path),
            lock_timeout_seconds=settings.duckdb_lock_timeout_seconds,
            read_copy=settings.read_copy,
        ),
    }


@dg.definitions
def defs() -> dg.Definitions:
    settings = load_settings()
    configure_logging(settings)
    # In-process: the multiprocess executor costs seconds per step and DuckDB allows one writer.
    return dg.Definitions(resources=build_resources(settings), executor=dg.in_process_executor)
