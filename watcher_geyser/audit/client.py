"""Watcher through python-watcherclient: templates, audits, action plans. The only file here that calls it.

Every call goes through ``_api``, which turns watcherclient's exceptions into
``WatcherError`` carrying Watcher's own message (``faultstring``) and HTTP status, so
the operator reads what Watcher said, unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from watcher_geyser.audit.report import PlanReport, plan_report

T = TypeVar("T")
SERVICE_TYPE = "infra-optim"
DEFAULT_PARAMS_VERSION = (1, 7)  # Watcher's API version that added audit templates' default_parameters
DONE_AUDIT = ("SUCCEEDED", "FAILED", "CANCELLED", "SUSPENDED", "DELETED")
DONE_PLAN = ("SUCCEEDED", "FAILED", "CANCELLED", "SUPERSEDED", "DELETED")


class WatcherError(Exception):
    """Watcher's API refused or failed a request; the message is Watcher's own."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class AuditRequest:
    goal: str = "server_consolidation"
    strategy: str = "geyser_consolidation"
    template: str = "geyser"
    audit_type: str = "ONESHOT"  # or CONTINUOUS
    interval: str | None = None  # CONTINUOUS: seconds, or a cron expression
    parameters: dict[str, Any] | None = None
    name: str | None = None
    auto_trigger: bool = False


def watcher_client(conn, api_version: str = "1.latest"):
    """A watcherclient v1 client on the session of an openstacksdk connection."""
    from keystoneauth1 import exceptions as ks_exc
    from watcherclient import client as wclient

    from watcher_geyser.cloud.connect import CloudError

    endpoint = conn.config.get_endpoint(SERVICE_TYPE)
    if not endpoint:
        try:
            endpoint = conn.session.get_endpoint(
                service_type=SERVICE_TYPE,
                interface=conn.config.get_interface(),
                region_name=conn.config.get_region_name(SERVICE_TYPE),
            )
        except ks_exc.EndpointNotFound:
            endpoint = None
        except ks_exc.ClientException as exc:
            raise CloudError(f"cannot look up Watcher's endpoint: {exc}") from None
    if not endpoint:
        raise CloudError(
            "no Watcher (infra-optim) endpoint in the service catalog; is Watcher installed? "
            "Set infra_optim_endpoint_override in clouds.yaml to reach it directly"
        )
    return wclient.get_client(
        "1", session=conn.session, os_endpoint_override=endpoint, os_infra_optim_api_version=api_version
    )


def _api(what: str, fn: Callable[[], T]) -> T:
    from keystoneauth1 import exceptions as ks_exc
    from watcherclient.common.apiclient import exceptions as w_exc

    try:
        return fn()
    except (w_exc.ConnectionRefused, ks_exc.ConnectionError) as exc:  # after watcherclient's own retries
        where = str(exc).split(": HTTP", 1)[0]  # "Unable to establish connection to URL", not urllib3's repr
        raise WatcherError(
            f"{what}: cannot reach Watcher's API ({where}); check that watcher-api runs and that its endpoint "
            "(the catalog's infra-optim, or infra_optim_endpoint_override in clouds.yaml) is right; nothing was changed"
        ) from None
    except w_exc.HttpError as exc:
        text = str(exc.message or exc.details or exc).replace("\\n", "\n").strip()  # Watcher escapes its newlines
        raise WatcherError(f"{what}: {text}", exc.http_status) from None
    except (w_exc.ClientException, ks_exc.ClientException) as exc:
        raise WatcherError(f"{what}: {exc}") from None


def _as_dict(resource) -> dict:
    return resource.to_dict() if hasattr(resource, "to_dict") else dict(resource)


def server_version(client) -> tuple[int, int]:
    """The highest API version the Watcher server speaks (from its root document)."""
    resp, body = _api("read Watcher's API versions", lambda: client.http_client.json_request("GET", "/"))
    best = (1, 0)
    for version in (body or {}).get("versions", []):
        text = version.get("max_version") or version.get("version") or ""
        major, _, minor = text.partition(".")
        if major.isdigit() and minor.isdigit():
            best = max(best, (int(major), int(minor)))
    return best


def ensure_template(client, request: AuditRequest, with_defaults: bool) -> tuple[dict, str]:
    """Create the audit template, or update it to ``request``'s goal, strategy and parameters.

    Returns (template, what was done: "created", "updated" or "unchanged").
    """
    wanted = {"goal": request.goal, "strategy": request.strategy}
    if with_defaults:
        wanted["default_parameters"] = request.parameters or {}
    try:
        existing = _api(
            f"read audit template {request.template!r}", lambda: client.audit_template.get(request.template)
        )
    except WatcherError as exc:
        if exc.status != 404:
            raise
        existing = None
    if existing is None:
        created = _api(
            f"create audit template {request.template!r}",
            lambda: client.audit_template.create(
                name=request.template, description="watcher-geyser: energy-aware consolidation", **wanted
            ),
        )
        return _as_dict(created), "created"
    current = _as_dict(existing)
    patch = []
    if current.get("goal_name") != request.goal:
        patch.append({"op": "replace", "path": "/goal", "value": request.goal})
    if current.get("strategy_name") != request.strategy:
        patch.append({"op": "replace", "path": "/strategy", "value": request.strategy})
    if with_defaults and (current.get("default_parameters") or {}) != wanted["default_parameters"]:
        patch.append({"op": "replace", "path": "/default_parameters", "value": wanted["default_parameters"]})
    if not patch:
        return current, "unchanged"
    updated = _api(
        f"update audit template {request.template!r}",
        lambda: client.audit_template.update(current["uuid"], patch),
    )
    return _as_dict(updated), "updated"


def start_audit(client, request: AuditRequest, template_uuid: str) -> dict:
    fields: dict[str, Any] = {
        "audit_template_uuid": template_uuid,
        "audit_type": request.audit_type,
        "parameters": request.parameters or {},
        "auto_trigger": request.auto_trigger,
    }
    if request.interval is not None:
        fields["interval"] = request.interval
    if request.name:
        fields["name"] = request.name
    return _as_dict(_api("create the audit", lambda: client.audit.create(**fields)))


def wait_for_audit(client, audit_uuid: str, timeout_s: float, continuous: bool = False,
                   on_state: Callable[[str], None] | None = None, poll_s: float = 1.0) -> dict:
    """Poll until the audit is done; a CONTINUOUS audit until its first action plan exists.

    Raises ``TimeoutError`` naming the last state when ``timeout_s`` passes.
    """
    def done(state: str | None) -> bool:
        return state in DONE_AUDIT or (continuous and state != "PENDING" and bool(latest_plan(client, audit_uuid)))

    return _poll(f"audit {audit_uuid}", lambda: client.audit.get(audit_uuid), done, timeout_s, on_state, poll_s)


def _poll(what: str, read: Callable, done: Callable[[str | None], bool], timeout_s: float,
          on_state: Callable[[str], None] | None, poll_s: float) -> dict:
    """Read ``what`` until ``done(state)``, reporting each new state; ``TimeoutError`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last = None
    while True:
        item = _as_dict(_api(f"read {what}", read))
        if item.get("state") != last:
            last = item.get("state")
            if on_state:
                on_state(last)
        if done(last):
            return item
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} still {last} after {timeout_s:g} s")
        time.sleep(poll_s)


def latest_plan(client, audit_uuid: str) -> dict | None:
    """The audit's current action plan: the newest that is not superseded, else the newest."""
    plans = [_as_dict(p) for p in _api(
        f"list action plans of audit {audit_uuid}", lambda: client.action_plan.list(audit=audit_uuid, detail=True))]
    if not plans:
        return None
    plans.sort(key=lambda p: p.get("created_at") or "")
    current = [p for p in plans if p.get("state") != "SUPERSEDED"]
    return (current or plans)[-1]


def report(client, audit: dict) -> PlanReport:
    plan = latest_plan(client, audit["uuid"])
    if plan is None:
        return plan_report(audit, None, [])
    plan = _as_dict(_api(f"read action plan {plan['uuid']}", lambda: client.action_plan.get(plan["uuid"])))
    actions = _api(
        f"list actions of action plan {plan['uuid']}",
        lambda: client.action.list(action_plan=plan["uuid"], detail=True, limit=0),
    )
    return plan_report(audit, plan, [_as_dict(a) for a in actions])


def start_plan(client, plan_uuid: str) -> dict:
    return _as_dict(_api(f"start action plan {plan_uuid}", lambda: client.action_plan.start(plan_uuid)))


def wait_for_plan(client, plan_uuid: str, timeout_s: float, on_state: Callable[[str], None] | None = None,
                  poll_s: float = 1.0) -> dict:
    return _poll(f"action plan {plan_uuid}", lambda: client.action_plan.get(plan_uuid),
                 lambda state: state in DONE_PLAN, timeout_s, on_state, poll_s)
