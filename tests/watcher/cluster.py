"""Real Watcher ``ModelRoot`` objects built from Watcher's own element classes, for the tests."""

from __future__ import annotations

import uuid as uuidlib

from watcher.decision_engine.model import element, model_root


def node(name: str, vcpus=16, memory=32768, disk=500, state="up", status="enabled", disabled_reason=None,
         vcpu_ratio=1.0, memory_ratio=1.0, disk_ratio=1.0, vcpu_reserved=0, memory_mb_reserved=0,
         disk_gb_reserved=0) -> element.ComputeNode:
    return element.ComputeNode(
        uuid=str(uuidlib.uuid5(uuidlib.NAMESPACE_DNS, name)), hostname=name, vcpus=vcpus, memory=memory,
        disk=disk, state=state, status=status, disabled_reason=disabled_reason, vcpu_ratio=vcpu_ratio,
        memory_ratio=memory_ratio, disk_ratio=disk_ratio, vcpu_reserved=vcpu_reserved,
        memory_mb_reserved=memory_mb_reserved, disk_gb_reserved=disk_gb_reserved,
    )


def instance(name: str, host: str, vcpus=2, memory=2048, disk=20, state="active", locked=False,
             exclude=False, metadata=None) -> element.Instance:
    inst = element.Instance(
        uuid=str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, name)), name=name, vcpus=vcpus, memory=memory, disk=disk,
        state=state, locked=locked, metadata=metadata or {}, project_id="aaaaaaaa-1111-2222-3333-444444444444",
        host=host, hypervisor_hostname=host,
    )
    inst.watcher_exclude = exclude
    return inst


def model(nodes: list, instances: list) -> model_root.ModelRoot:
    root = model_root.ModelRoot()
    by_name = {}
    for n in nodes:
        root.add_node(n)
        by_name[n.hostname] = n
    for inst in instances:
        root.add_instance(inst)
        root.map_instance(inst, by_name[inst.host])
    return root
