"""Drive Watcher audits from the command line: python-watcherclient at the edge, a pure view inside.

- ``client``: ``watcher_client(conn)``, ``ensure_template``, ``start_audit``, ``wait_for_audit``,
  ``report``, ``start_plan``, ``wait_for_plan`` (``WatcherError`` carries Watcher's message).
- ``report``: ``plan_report(audit, plan, actions) -> PlanReport`` (waves, migrations, released
  hosts, efficacy) and ``format_report`` (pure, no OpenStack imports).
"""

from watcher_geyser.audit.client import AuditRequest, WatcherError
from watcher_geyser.audit.report import ActionRow, PlanReport, format_report, plan_report

__all__ = ["ActionRow", "AuditRequest", "PlanReport", "WatcherError", "format_report", "plan_report"]
