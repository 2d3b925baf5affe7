"""Emulated clouds for the operator tools: Watcher's own Nova and Placement emulators, its real API.

``NovaPlacementFixture`` (the fixture Watcher's functional tests and ours use: Pecan apps
behind wsgi-intercept on fake host names) is reached through openstacksdk without
Keystone: a clouds.yaml entry with ``auth_type: none`` (or ``admin_token``) plus
``compute_endpoint_override``, ``placement_endpoint_override`` and
``infra_optim_endpoint_override``. The same shape reaches a devstack's services directly.

Watcher's API runs with authentication off and takes the caller's roles from the
``X-Roles`` header that keystonemiddleware sets in a real deployment. ``KeystoneStandIn``
plays that part at that seam only: it maps a token to roles, as Keystone would.
"""

from __future__ import annotations

from pathlib import Path

CLOUD = "emulated"
ADMIN_TOKEN = "admin-secret"  # the stand-in's admin; any other token is a plain member
FAKE_PROJECT = "aaaaaaaa-1111-2222-3333-444444444444"
FAKE_USER = "bbbbbbbb-1111-2222-3333-444444444444"


def clouds_yaml(path: Path, clouds: dict[str, dict[str, str]], token: str | None = None) -> Path:
    """Write a clouds.yaml with one keystone-less entry per name: {name: {service: endpoint}}.

    With ``token`` the entries send it (``auth_type: admin_token``), else none (``auth_type: none``).
    """
    lines = ["clouds:"]
    for name, endpoints in clouds.items():
        first = next(iter(endpoints.values()), "http://localhost/")
        if token:
            lines += [f"  {name}:", "    auth_type: admin_token", "    auth:", f"      token: {token}"]
        else:
            lines += [f"  {name}:", "    auth_type: none", "    auth:"]
        lines.append(f"      endpoint: {first}")
        lines += [f"    {service}_endpoint_override: {url}" for service, url in endpoints.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def emulated_endpoints(fixture) -> dict[str, str]:
    return {"compute": fixture.nova_url + "/v2.1", "placement": fixture.placement_url}


class KeystoneStandIn:
    """WSGI middleware: what keystonemiddleware's auth_token adds to a request, from a token."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        token = environ.get("HTTP_X_AUTH_TOKEN")
        for key in ("HTTP_X_ROLES", "HTTP_X_USER_ID", "HTTP_X_PROJECT_ID"):
            environ.pop(key, None)  # never trust what the client claims
        if token:
            environ["HTTP_X_ROLES"] = "admin,member" if token == ADMIN_TOKEN else "member"
            environ["HTTP_X_USER_ID"] = FAKE_USER
            environ["HTTP_X_PROJECT_ID"] = FAKE_PROJECT
        return self.app(environ, start_response)
