"""``geyser audit``: run a Watcher audit with our strategy and show the action plan it recommends."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

DESCRIPTION = """\
Run a Watcher audit through Watcher's API (python-watcherclient) and show the action plan it
recommends: the waves of actions, the migrations, the hosts released, the efficacy.

1. the audit template --template is created, or updated to --goal, --strategy and the
   parameters given (kept as the template's default parameters where Watcher's API is
   1.7 or later);
2. a ONESHOT audit (or CONTINUOUS with --interval) starts with those parameters;
3. geyser waits for it (a CONTINUOUS audit: for its first action plan) and prints the plan;
4. only with --execute is the action plan started, and geyser waits for it to finish.

Without --execute nothing in the cloud changes: Watcher only computes a recommendation.
Credentials as for the openstack client (--os-cloud NAME or the OS_* variables); the
Watcher endpoint comes from the catalog (service type infra-optim) or from
infra_optim_endpoint_override in clouds.yaml. Errors from Watcher are shown as Watcher
gives them.

Exit status: 0 the audit succeeded (and the plan, with --execute); 1 Watcher refused or
failed something, or --timeout passed; 2 bad arguments, unknown cloud, missing credentials.
"""

EPILOG = """\
examples:
  geyser audit --os-cloud prod                                  # geyser_consolidation, defaults
  geyser audit --os-cloud prod -p ceiling=0.8 -p signal_source=constant:5000W
  geyser audit --os-cloud prod --audit-type CONTINUOUS --interval 900 --params-file params.json
  geyser audit --os-cloud prod --goal dummy --strategy dummy -p para1=2.0   # Watcher's own
  geyser audit --os-cloud prod --execute                        # and start the plan it gives

-p KEY=VALUE: VALUE is read as JSON when it parses (0.8, true, [1,2], "text"), else as text.
The same with the openstack client: see `openstack optimize audit create --help`.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "audit",
        help="run a Watcher audit with our strategy and show the recommended action plan",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--os-cloud", metavar="NAME", help="cloud in clouds.yaml (default: the OS_* variables)")
    p.add_argument("--goal", default="server_consolidation", help="Watcher goal (default %(default)s)")
    p.add_argument(
        "--strategy", default="geyser_consolidation", help="Watcher strategy (default %(default)s)"
    )
    p.add_argument("--template", default="geyser", metavar="NAME", help="audit template name (default %(default)s)")
    p.add_argument("--audit-type", choices=("ONESHOT", "CONTINUOUS"), default="ONESHOT", type=str.upper,
                   help="run once, or every --interval until stopped (default %(default)s)")
    p.add_argument("--interval", metavar="S|CRON", help="CONTINUOUS: seconds between runs, or a cron expression")
    p.add_argument("--name", help="audit name (default: Watcher's)")
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                   help="strategy parameter (repeatable; the strategy's default for any not given)")
    p.add_argument("--params-file", metavar="FILE", help="strategy parameters as a JSON object (-p overrides)")
    p.add_argument("--timeout", type=float, default=600.0, metavar="S",
                   help="wait at most S seconds (default %(default)g)")
    p.add_argument("--execute", action="store_true", help="start the recommended action plan (changes the cloud)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--poll", type=float, default=2.0, metavar="S", help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from watcher_geyser.audit import client as wc
    from watcher_geyser.audit.report import format_report
    from watcher_geyser.cloud import CloudError, connect

    def say(msg: str) -> None:
        print(f"geyser audit: {msg}", file=sys.stderr)

    # watcherclient logs its last failed retry itself; our one line (say) already holds its reason
    logging.getLogger("watcherclient").addHandler(logging.NullHandler())

    try:
        request = _request(args)
    except ValueError as exc:
        say(str(exc))
        return 2
    try:
        conn = connect(args.os_cloud)
        client = wc.watcher_client(conn)
    except CloudError as exc:
        say(str(exc))
        return 2
    audit_uuid = None
    try:
        version = wc.server_version(client)
        with_defaults = version >= wc.DEFAULT_PARAMS_VERSION
        if with_defaults:
            client = wc.watcher_client(conn, ".".join(map(str, wc.DEFAULT_PARAMS_VERSION)))
        template, done = wc.ensure_template(client, request, with_defaults)
        say(f"audit template {request.template!r} {done}: goal {request.goal}, strategy {request.strategy}"
            + ("" if with_defaults else f" (Watcher API {version[0]}.{version[1]}: parameters go with the audit)"))
        audit = wc.start_audit(client, request, template["uuid"])
        audit_uuid = audit["uuid"]
        # Watcher fills in the strategy's defaults: what it shows is what the strategy gets
        held = json.dumps(audit.get("parameters") or request.parameters, sort_keys=True)
        say(f"audit {audit['uuid']} created ({request.audit_type}); parameters as Watcher holds them: {held}")
        audit = wc.wait_for_audit(client, audit["uuid"], args.timeout, request.audit_type == "CONTINUOUS",
                                  lambda s: say(f"audit {s}"), args.poll)
        report = wc.report(client, audit)
        if args.execute and report.plan_uuid and audit.get("state") != "FAILED":
            if not args.json:  # the plan as recommended first; --json prints one object, the final one
                print(format_report(report) + "\n")
            say(f"starting action plan {report.plan_uuid}")
            wc.start_plan(client, report.plan_uuid)
            wc.wait_for_plan(client, report.plan_uuid, args.timeout, lambda s: say(f"action plan {s}"), args.poll)
            report = wc.report(client, audit)
    except wc.WatcherError as exc:
        say(f"Watcher: {exc}" + (f" (HTTP {exc.status})" if exc.status else ""))
        return 1
    except TimeoutError as exc:
        say(f"{exc}; it goes on in Watcher: see `openstack optimize audit show {audit_uuid}`")
        return 1
    _print(report, args.json, format_report)
    if audit.get("state") == "FAILED":
        say(f"audit {audit['uuid']} FAILED: Watcher keeps the reason in the decision engine's log")
        return 1
    if args.execute and report.plan_state not in (None, "SUCCEEDED"):
        say(f"action plan {report.plan_uuid} ended {report.plan_state}")
        return 1
    return 0


def _print(report, as_json: bool, fmt) -> None:
    if as_json:
        print(json.dumps(report.to_dict(), indent=1))
    else:
        print(fmt(report))


def _request(args: argparse.Namespace):
    from watcher_geyser.audit.client import AuditRequest

    params: dict = {}
    if args.params_file:
        try:
            params = json.loads(Path(args.params_file).read_text())
        except OSError as exc:
            raise ValueError(f"--params-file {args.params_file}: cannot read: {exc.strerror or exc}") from None
        except json.JSONDecodeError as exc:
            where = f"--params-file {args.params_file}"
            raise ValueError(f"{where}: not valid JSON (line {exc.lineno}): {exc.msg}") from None
        if not isinstance(params, dict):
            raise ValueError(f"--params-file {args.params_file}: must hold a JSON object of parameters")
    for text in args.param:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"-p {text!r}: write KEY=VALUE, such as -p ceiling=0.8")
        try:
            params[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            params[key.strip()] = value
    if args.audit_type == "CONTINUOUS" and not args.interval:
        raise ValueError("a CONTINUOUS audit needs --interval (seconds, or a cron expression)")
    if args.audit_type == "ONESHOT" and args.interval:
        raise ValueError("--interval is for CONTINUOUS audits; add --audit-type CONTINUOUS")
    if args.interval is not None and args.interval.strip().isdigit() and int(args.interval) == 0:
        raise ValueError("--interval 0: a CONTINUOUS audit needs seconds above 0 (such as 900) or a cron expression")
    if args.timeout <= 0:
        raise ValueError(f"--timeout must be > 0, got {args.timeout:g}")
    return AuditRequest(
        goal=args.goal,
        strategy=args.strategy,
        template=args.template,
        audit_type=args.audit_type,
        interval=args.interval,
        parameters=params,
        name=args.name,
    )
