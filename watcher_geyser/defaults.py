"""Defaults every shell shares, written once.

The pipeline's settings (``watcher_geyser.pipeline``) take their defaults from here, and so
do ``geyser plan``'s options, the audit parameters' JSON schema, the oslo options and the
signal policy's ceiling range. A leaf module (it imports nothing of ours) so that the
signal layer and the pipeline can both read it without importing each other.
"""

from __future__ import annotations

#: Seconds the solver may search per request (Watcher audit, ``geyser plan``).
TIME_LIMIT_S = 10.0
#: Seconds the solver may search per simulated step (``geyser simulate``'s geyser policy): a
#: day replays 288 steps. 1 s leaves room for ejection chains, swaps and CP-SAT neighbourhoods
#: (they start only with 0.3 s left), and 20110303 then replays row for row as Watcher's
#: 10 s does, at 12-36 s of wall time per geyser policy and day; 0.15 s skipped them and
#: understated SLATAH and migrations near a full ceiling by 15-50 %
#: (docs/design/simulator-cloudsim-fidelity.md, "The solver's time per step").
SIM_TIME_LIMIT_S = 1.0
#: CP-SAT worker threads: the decision engine shares its host with other services.
SOLVER_WORKERS = 2

#: Allocation ceiling: fraction of each host's schedulable vcpu/RAM/disk (Placement's
#: allocation ratios included) usable after consolidation. The operator's contract, not
#: moved by the energy signal.
ALLOCATION_CEILING = 1.0
#: Signal-blind CPU ceiling: forecast or measured CPU use may fill this fraction of a
#: host's physical cores. The energy signal moves this ceiling around it.
#: 0.75 with the relief at 100 % (``RELIEF_MARGIN``): on the PlanetLab days (cloudsim
#: fidelity) 0.95/1.0 migrated 0.15-0.21x as often as thr-mmt, 0.8/1.0 0.10-0.16x and
#: 0.75/1.0 0.11-0.12x on the two worst days, for a SLATAH of 0.6-1.1 % against thr-mmt's
#: 5 %, at 3-8 % more energy than 0.95 (docs/design/solver.md; at 0.15 s a step: at today's
#: 1 s, 0.75/1.0 migrates 0.11-0.14x, SLATAH 0.6-0.9 %).
CPU_CEILING = 0.75
#: A host sheds instances only when its CPU use passes its ceiling by this much (a dead
#: band, so that a host hovering at the ceiling is not churned); capped at 100 %.
RELIEF_MARGIN = 0.25
#: The signal's CPU ceiling is kept within these bounds (audit ``ceiling_min``/``ceiling_max``).
SIGNAL_CEILING_MIN = 0.5
SIGNAL_CEILING_MAX = 1.0
#: The signal policy's range: CPU ceiling when energy is plentiful, and when it is scarce.
#: The scarce end packs harder than no signal, plentiful energy relaxes (0.5 with relief at
#: 60 %: hosts are spread while the watts are free). The scarce end packs the *measured* load
#: with relief at 100 %, each host to ``1 - its margin`` (``pipeline/margin.py``: a host's
#: summed load is smoother the more it holds, so a two-core host of 30 VMs keeps about 20 %,
#: an 8-core host of 130 VMs about 10 %), and never past ``TIGHT_CPU_CEILING``, which keeps a
#: dead band of at least 5 % under relief. Why the head-room sits in the host's ceiling, not in a
#: per-VM burst forecast (the simulator drops its look-back while fully scarce): a host's peak is
#: not the sum of its VMs' peaks. Figures in docs/design/signal-policy.md.
RELAXED_CPU_CEILING = 0.5
TIGHT_CPU_CEILING = 0.95
#: The per-host margin's one tuned number, k in ``margin = k x spread / cores`` (``pipeline/margin.py``),
#: and the bounds every host's margin is kept within (the smallest is the least dead band under relief).
HOST_MARGIN_K = 0.6
HOST_MARGIN_MIN = 0.05
HOST_MARGIN_MAX = 0.5
#: The signal policy's relief margin when plentiful (small: relieve early while watts are
#: free) and when scarce (as without a signal).
RELAXED_RELIEF_MARGIN = 0.1
TIGHT_RELIEF_MARGIN = RELIEF_MARGIN

#: Seconds between two CPU samples: Watcher's datasource granularity (the strategy's ``cpu_granularity_s``)
#: and the step of the PlanetLab traces the simulator replays.
CPU_SAMPLE_S = 300
#: Samples, the newest included, whose highest CPU use an instance is placed on: the simulator's per-VM
#: forecast (``GeyserPolicy.forecast_window``: the replay records a step's sample before deciding, so 3
#: is the sample now and the two before it) and the Watcher strategy's read, the datasource's peak
#: (``CPU_AGGREGATE``) over ``CPU_PERIOD_S``. A decision holds until the next audit, and these traces
#: burst for one or two samples: the last three are a cheap guard against the bursts behind SLATAH.
CPU_FORECAST_WINDOW = 3
#: The same while the signal's decision is fully scarce (level 1, ``pipeline.reads_load_now``): one
#: sample, the load now. Every watt then goes uncovered, and a per-VM look-back sums every VM's burst
#: as if all burst at once; the head-room sits in each host's margin instead (``pipeline/margin.py``).
CPU_SCARCE_WINDOW = 1
#: Seconds of samples the strategy's CPU read covers (its ``cpu_period_s``): the look-back above.
CPU_PERIOD_S = CPU_FORECAST_WINDOW * CPU_SAMPLE_S
#: How the strategy aggregates them (its ``cpu_aggregate``): the peak, as the simulator's forecast.
CPU_AGGREGATE = "max"

#: Seconds an implausibly low signal reading (a broken meter reads 0 W) is held unconfirmed, no
#: host switched off, unless the series shows it came by a gradual fall (``signal/suspicion.py``);
#: also the least age of a signal decision before another replaces it (``PolicyConfig.min_dwell_s``).
SIGNAL_MIN_DWELL_S = 1800.0
#: Seconds a Prometheus signal's query reaches back when its spec gives no ``range``: twice the
#: dwell, so a low run younger than the dwell (one older is confirmed by its own readings) shows
#: the whole dwell before its first low reading, the fall the suspicion rule looks for. At the
#: default step (``PROMETHEUS_STEP_S``) 61 points, far under Prometheus' 11,000.
PROMETHEUS_RANGE_S = 2 * SIGNAL_MIN_DWELL_S
#: Seconds between the points of a Prometheus range query: 30 of them over the dwell, where the
#: suspicion rule needs three to see a fall.
PROMETHEUS_STEP_S = 60.0

#: How long a placement is expected to stand, seconds: a swap of two instances, or a heavy one's move
#: alone (``solver/swap.py``), is made only when the watts it saves over this long pay for its
#: migrations. Six hours: a swap acts on CPU averages, which hold for hours rather than days; an
#: hour lets almost none pay (docs/design/solver.md). 0: no swaps.
SWAP_PAYBACK_S = 6 * 3600.0
#: How far back ``geyser snapshot`` asks Nova for the migrations that moved an instance (each one's
#: ``moved_at``): a day, so a plan of the snapshot holds them for any ``--swap-payback`` up to a day,
#: four times the default, while the list stays one or two pages on most clouds.
MOVED_WITHIN_S = 24 * 3600.0

#: Migrations per wave (Watcher's own default for concurrent migrations).
PARALLELISM = 2
#: Migrations touching one host per wave (Nova's default max_concurrent_live_migrations).
PER_HOST_PARALLELISM = 1
#: Migration bandwidth for the plan's duration estimate, MB/s (the strategy's
#: ``migration_bandwidth_mb_s``, ``geyser plan --bandwidth``). The estimate times the waves and, as
#: Watcher runs no audit while a plan is ONGOING, says which shelved instances fall due before the
#: plan ends (``deferral/horizon.py``): a bandwidth above the cloud's makes the estimate short and a
#: due bring-back late. 1000 MB/s suits a fast dedicated migration network; 1-10 GbE live migration
#: with dirty-page rounds often gives 100-1000 MB/s (measure it: Nova's migration records,
#: ``memory_total`` / duration).
BANDWIDTH_MB_S = 1000.0
#: Seconds each migration takes besides copying (setup, last dirty-page round, switch-over).
MIGRATION_OVERHEAD_S = 5.0
#: Seconds a host takes from the power-on request to its nova-compute service up (the strategy's
#: ``host_power_on_s``, ``geyser plan --power-on-time``), for the plan's duration estimate: a wave
#: that switches hosts on lasts this long, and a deferral bring-back that needs a host switched on
#: adds it. Like the migration speed, it says which shelved instances fall due before the plan
#: ends (``deferral/horizon.py``): too short a figure makes such a bring-back late. Five minutes
#: suits a server with a fast firmware; bare metal through Ironic often takes 5-15 minutes (measure
#: it: the Ironic node's power state change, then the compute service's ``updated_at``).
POWER_ON_S = 300.0
#: Seconds a host takes to power off (the strategy's ``host_power_off_s``, ``geyser plan
#: --power-off-time``): the length of the plan's last wave when it switches emptied hosts off.
POWER_OFF_S = 60.0

#: A host's linear power model when nothing says better, watts at idle and at 100 % CPU: the
#: plugin's ``[geyser_power] default_idle_w``/``default_max_w``, ``geyser snapshot --idle-w``/
#: ``--max-w``, and the simulator's newest host type (``simulator.datacenter``).
HOST_IDLE_W = 120.0
HOST_MAX_W = 350.0

#: Power cycles (off then on again) a host may make in any 24 h window.
MAX_POWER_CYCLES_PER_DAY = 2

#: Seconds before its latest safe start a shelved instance is brought back (``DeferralConfig.lead_s``,
#: the strategy's ``deferral_lead_s``): at least the audit interval plus the time an unshelve takes.
#: The plan an audit makes adds its own expected duration to it (``deferral/decide.py``, rule 1).
DEFERRAL_LEAD_S = 900.0
