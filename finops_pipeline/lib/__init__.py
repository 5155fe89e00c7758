"""Plain-Python logic the Dagster definitions call: no asset, resource or schedule lives here.

Nothing in ``lib`` imports ``finops_pipeline.defs``; ``defs`` imports ``lib``. Each module can be read,
tested and benchmarked without a Dagster instance.
"""
