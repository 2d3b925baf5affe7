"""``geyser snapshot`` read time on large emulated clouds: one JSON line per size.

    python bench/snapshot_scale.py                       # 100/2,000 and 500/10,000 hosts/servers
    python bench/snapshot_scale.py --sizes 1000x20000 --page-size 1000

The cloud is Watcher's emulated Nova and Placement (in-process, over wsgi-intercept), so
the figures are openstacksdk's and ours, without network latency: the number of requests
(one per page of servers, one per host for its Placement inventory) is what a real cloud
multiplies by its round-trip time.
"""

from __future__ import annotations

import argparse
import json
import time

import watcher.tests.functional  # noqa: F401  (oslo.service backend first, see tests/ops/conftest.py)
from watcher.tests.functional import topology as topo
from watcher.tests.local_fixtures.nova import NovaPlacementFixture

from watcher_geyser.cloud import read_cloud, to_fleet
from watcher_geyser.power import PowerModel


def connection(fixture):
    """openstacksdk without Keystone, as clouds.yaml's auth_type none + endpoint overrides give."""
    from keystoneauth1 import noauth
    from keystoneauth1 import session as ks_session
    from openstack import connection as os_connection

    session = ks_session.Session(auth=noauth.NoAuth())
    return os_connection.Connection(
        session=session,
        compute_endpoint_override=fixture.nova_url + "/v2.1",
        placement_endpoint_override=fixture.placement_url,
    )


def run_one(n_hosts: int, n_servers: int, page_size: int) -> dict:
    t = topo.ComputeTopology().add_computes(count=n_hosts, vcpus=64, memory=262144, disk=2000)
    per_host, extra = divmod(n_servers, n_hosts)
    for h in range(n_hosts):
        t.add_instances(computes=[f"compute-{h + 1}"], count=per_host + (h < extra), vcpus=2, memory=4096, disk=20)
    fixture = NovaPlacementFixture(topology=t)
    fixture.setUp()
    requests_seen = []
    try:
        conn = connection(fixture)
        conn.session.session.hooks["response"].append(lambda r, *a, **k: requests_seen.append(r.url))
        started = time.perf_counter()
        records = read_cloud(conn, page_size)
        read_s = time.perf_counter() - started
        started = time.perf_counter()
        snapshot = to_fleet(records, lambda _name: PowerModel.linear(120, 350))
        build_s = time.perf_counter() - started
    finally:
        fixture.cleanUp()
    return {
        "hosts": n_hosts,
        "servers": n_servers,
        "page_size": page_size,
        "requests": len(requests_seen),
        "read_s": round(read_s, 3),
        "to_fleet_s": round(build_s, 3),
        "instances_in_fleet": len(snapshot.fleet.instances),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["100x2000", "500x10000"], metavar="HOSTSxSERVERS",
                        help="emulated clouds, one line each (default: 100x2000 500x10000)")
    parser.add_argument("--page-size", type=int, default=500, help="servers per Nova page (default %(default)s)")
    args = parser.parse_args()
    for size in args.sizes:
        hosts, servers = (int(x) for x in size.lower().split("x"))
        print(json.dumps(run_one(hosts, servers, args.page_size)), flush=True)


if __name__ == "__main__":
    main()
