"""What the simulator's claims change: a day replayed with the geyser policy's fleet counting each
migration in flight on its destination too (a claim row, ``claims.py``, as the Watcher strategy reads
Nova's migrations) and without (the VM on its source only, as the simulator did before).

Each ``--policy`` runs twice through ``geyser simulate``'s own path (``commands.simulate.execute``),
the same command line (``command`` in the output) with ``claims`` on and off, side by side in one
process. Per run: the report's figures, the decisions, how many saw a migration in flight and how
many of those held claims, and the claim rows summed over decisions (and their most at one decision).
Each decision is also judged as Nova would take it: ``hosts_past_ram_once_landed`` counts the hosts
whose RAM the planned moves would exceed once they and the migrations in flight have landed (the
engine does not refuse such a move: it accounts CPU, so the figures above cannot show it; Nova would
refuse the move, NoValidHost, or over-commit the host). In ``cloudsim`` fidelity every migration
ends within seconds of its decision (they all start at once and last RAM / 62.5 MB/s), so no
decision sees one in flight and the two runs must be identical. ``--plans drop`` by default, on
purpose: under ``run-to-end`` (realistic's default, as Watcher) a decision due while a migration is
in flight is skipped, so none sees one and the two runs are identical too; in Watcher the claims
still matter, for migrations that are not the running plan's (an operator's, another audit's
forced plan). Prints one JSON object.

    .venv/bin/python bench/sim_claims.py --fidelity realistic [--trace ../shared/traces/planetlab/20110303]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from watcher_geyser.commands.simulate import execute, parse
from watcher_geyser.commands.simulate_setup import make_policies
from watcher_geyser.simulator.fidelity import PLANS
from watcher_geyser.simulator.state import Migration

FIGURES = ("energy_kwh", "energy_above_signal_kwh", "slatah", "slatah_overload", "slatah_core_cap",
           "slatah_migration", "pdm", "slav", "migrations", "migrations_dropped", "host_shutdowns",
           "host_power_ons")


def command(args: argparse.Namespace) -> list[str]:
    argv = ["--trace", args.trace, "--deterministic", "--fidelity", args.fidelity, "--plans", args.plans,
            "--signal", args.signal]
    for spec in args.policy:
        argv += ["--policy", spec]
    return argv


def hosts_past_ram(view, waves: list[list[Migration]]) -> int:
    """Hosts whose RAM ``waves`` exceed once they and the migrations in flight have all landed,
    and that did not already exceed it counting each migration in flight on both its hosts."""
    state, dc = view.state, view.state.dc
    alive = np.flatnonzero(state.alive)
    both = np.bincount(state.vm_host[alive], dc.vm_ram_mb[alive], dc.hosts)
    where = state.vm_host.copy()
    for m in state.inflight:
        where[m.vm] = m.dst
        both[m.dst] += dc.vm_ram_mb[m.vm]
    for m in (m for wave in waves for m in wave):
        where[m.vm] = m.host
    landed = np.bincount(where[alive], dc.vm_ram_mb[alive], dc.hosts)
    return int(((landed > dc.ram_mb) & (both <= dc.ram_mb)).sum())


def judged(policy, counts: list[int]):
    """``policy`` with each decision's ``hosts_past_ram`` appended to ``counts`` (its answer unchanged)."""
    decide = policy.decide

    def decide_and_judge(view):
        waves = decide(view)
        counts.append(hosts_past_ram(view, waves))
        return waves

    policy.decide = decide_and_judge
    return policy


def replay(argv: list[str], claims: bool) -> list[dict]:
    """Every policy of ``argv`` replayed with ``claims`` set on its geyser policies."""
    args = parse(argv)
    args.quiet = True
    policies = make_policies(args.policy)
    past_ram: list[list[int]] = [[] for _ in policies]
    for policy, counts in zip(policies, past_ram):
        if hasattr(policy, "claims"):
            policy.claims = claims
        judged(policy, counts)
    outcome = execute(args, policies)
    rows = []
    for policy, result, counts in zip(policies, outcome.results, past_ram):
        summary = result.summary()
        seen = getattr(policy, "in_flight", [])
        rows.append({
            "policy": result.policy,
            "claims": claims,
            **{f: summary[f] for f in FIGURES},
            "decisions": len(seen),
            "decisions_with_migrations_in_flight": sum(1 for flying, _ in seen if flying),
            "decisions_with_claims": sum(1 for _, rows_ in seen if rows_),
            "claim_rows": sum(rows_ for _, rows_ in seen),
            "claim_rows_max": max((rows_ for _, rows_ in seen), default=0),
            "hosts_past_ram_once_landed": sum(counts),
            "decisions_past_ram_once_landed": sum(1 for c in counts if c),
        })
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trace", default="../shared/traces/planetlab/20110303",
                        help="the day replayed, as geyser simulate --trace (default %(default)s)")
    parser.add_argument("--fidelity", choices=("cloudsim", "realistic"), default="realistic",
                        help="cloudsim: no decision sees a migration in flight, both runs equal (default %(default)s)")
    parser.add_argument("--plans", choices=PLANS, default="drop",
                        help="default drop: the decisions that meet migrations in flight (see above)")
    parser.add_argument("--signal", default="solar:lat=52.1,lon=5.1,peak_w=21000",
                        help="the supply, as geyser simulate --signal (default %(default)s)")
    parser.add_argument("--policy", action="append", help="geyser specs (default: geyser, geyser:signal=off)")
    args = parser.parse_args(argv)
    args.policy = args.policy or ["geyser", "geyser:signal=off"]
    argv_ = command(args)
    without, with_ = replay(argv_, False), replay(argv_, True)
    rows = []
    for off, on in zip(without, with_):
        same = all(off[f] == on[f] for f in FIGURES)
        rows.append({"policy": off["policy"], "without_claims": off, "with_claims": on, "identical": same})
    print(json.dumps({"command": "geyser simulate " + " ".join(argv_), "runs": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
