"""Trace-replay simulator: utilisation traces through consolidation policies, in simulated time.

Modules: ``traces`` (readers), ``datacenter`` (presets, MIPS capacity, power curves), ``fidelity``
(``cloudsim`` vs ``realistic`` accounting), ``state`` (placement, migrations, the per-update host
accounting), ``placement`` (PABFD, MMT, THR and LR detectors), ``baselines`` (the ``Policy``
interface; npa, dvfs, thr-mmt, lr-mmt), ``engine`` (the clock, ``simulate``), ``metrics``,
``report`` (table, JSON, CSV, plots), ``fleet`` (the seam below).

Plugging in a Fleet-based policy (``geyser``)
---------------------------------------------
A policy is any object with ``name``, ``charges_full_power`` (False), ``switches_off_empty_hosts``
(True for a consolidating policy), ``initial_placement(state)`` and ``decide(view) -> list[Migration]``.
Inside ``decide``::

    from watcher_geyser.simulator.fleet import fleet_from_view, migrations_to

    fleet = view.fleet()                       # == fleet_from_view(view): a watcher_geyser.fleet.Fleet
    target = solve(Problem(fleet, cpu_ceiling=0.8, ...))   # the plugin's own code path
    return migrations_to(view, fleet, target.placement)    # or build Migration(vm, host) yourself

``fleet_from_view`` maps MIPS to vcpus (10 MIPS per vcpu, so ``cpu_util`` is exact), RAM as is
(not enforced in cloudsim fidelity: RAM allocation ratio 64), pins VMs that are migrating (state
``migrating``) and holds a claim row for each on its destination (room held, not a VM: ``migrations_to``
skips it), and marks hosts without VMs ``off``. The engine starts the returned migrations in list order, each lasting
RAM / 62.5 MB/s (after ``boot_s`` for an off host in realistic fidelity), and times ``decide`` per step.
A planner's waves can be returned as they are (``list[list[Migration]]``): each wave starts when the
previous one has finished; waves still pending at the next decision are dropped and counted
(``migrations_dropped``), since that decision replans from the state reached (``--plans drop``), or,
with ``Fidelity.plan_runs_to_end`` (``--plans run-to-end``, realistic's default, as Watcher), that
decision is skipped (``decisions_skipped``) and the plan runs to its end.
A policy may set ``self.stats = DecisionStats(solver_s, planner_s, found_by)`` for the report (``found_by``:
the solver pass whose answer it kept, ``steps.csv``'s column and ``report.json``'s ``passes_won``).
Register it in ``baselines.POLICIES`` (name -> factory) and ``geyser simulate --policy NAME`` runs it.
"""
