"""Emulated clouds for the operator tools: Watcher's own Nova and Placement emulators.

``emulated_cloud`` starts ``NovaPlacementFixture`` (the fixture Watcher's functional
tests and ours use: Pecan apps behind wsgi-intercept on fake host names) and writes a
``clouds.yaml`` that reaches it through openstacksdk without Keystone:
``auth_type: none`` plus ``compute_endpoint_override`` and
``placement_endpoint_override``. The same shape reaches a devstack's services directly.
"""

from __future__ import annotations

from pathlib import Path

CLOUD = "emulated"


def clouds_yaml(path: Path, clouds: dict[str, dict[str, str]]) -> Path:
    """Write a clouds.yaml with one keystone-less entry per name: {name: {service: endpoint}}."""
    lines = ["clouds:"]
    for name, endpoints in clouds.items():
        first = next(iter(endpoints.values()), "http://localhost/")
        lines += [f"  {name}:", "    auth_type: none", "    auth:", f"      endpoint: {first}"]
        lines += [f"    {service}_endpoint_override: {url}" for service, url in endpoints.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def emulated_endpoints(fixture) -> dict[str, str]:
    return {"compute": fixture.nova_url + "/v2.1", "placement": fixture.placement_url}
