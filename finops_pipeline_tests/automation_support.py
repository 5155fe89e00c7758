"""Schedules and sensors as the code location loads them with given settings, ticked with its resources."""

import datetime as dt
from typing import Any

import dagster as dg

from finops_pipeline.config_resources import resources_for
from finops_pipeline.defs.automation.definitions import build_automation
from finops_pipeline.settings import Settings


def schedule_for(settings: Settings, name: str) -> dg.ScheduleDefinition:
    (schedule,) = [s for s in build_automation(settings).schedules if s.name == name]
    return schedule


def tick_schedule(schedule: dg.ScheduleDefinition, settings: Settings, when: dt.datetime) -> Any:
    """One tick at ``when`` with the resources ``settings`` give (what the daemon would pass)."""
    with dg.build_schedule_context(
        scheduled_execution_time=when, resources=resources_for(settings)
    ) as context:
        return schedule.evaluate_tick(context)
