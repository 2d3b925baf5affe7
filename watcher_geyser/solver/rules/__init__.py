"""The placement rules, one module each: what the rule says, its solver-free checker, its CP-SAT form.

As in BtrPlace (rule, checker, encoding), each module below states its rule in its docstring
(with the maths), holds ``check_*`` (reads only the problem and a placement: the test oracle
for every answer, whichever back-end gave it) and, where the exact model has one, ``encode_*``
(its CP-SAT form over the booleans ``x[v, h]``: instance v ends on host h). ``solver/checks.py``
runs every checker.

======================  ==============================  ===================================
rule                    checker                         CP-SAT encoding
======================  ==============================  ===================================
``capacity``            ``check_capacity``              ``encode_capacity`` (exact model);
                                                        host selection: ``master.py``'s zone
                                                        relaxation over ``Workspace.held_limits``
``groups`` (affinity,   ``check_server_groups``         ``encode_server_groups``
anti-affinity)
``pinning`` (locks,     ``check_pinned``                ``fixed_instances``: one constant
exclusions, states)                                     variable, on the home host
``zones``               ``check_destinations``          ``destinations``: the domain of each
                                                        instance's variables
``cores`` (core size)   ``check_core_size``             ``destinations``: the domain of each
                                                        instance's variables
``caps``                ``check_migration_cap``,        ``encode_caps``
                        ``check_consolidation_cap``
``relief``              ``check_relief``                none: ``solver/relief.py`` relieves
                                                        hot hosts before any model is built
======================  ==============================  ===================================

The limits themselves (packing, held, relief) are defined once in ``solver/limits.py``.
``groups`` also answers the questions relief, the planner and deferral's bring-backs ask of the
group rule (who is a member, which hosts a member may take, the anti-affinity limit in transit).
"""
