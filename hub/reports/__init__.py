"""Reports (`hub report NAME`): each a function of the service's sources, the
actor and the query, returning a `Report` that renders to csv, json or pdf."""

from hub.reports.model import Report
from hub.reports.scope import ReportQuery

__all__ = ["Report", "ReportQuery"]
