"""Open a connection to a cloud the way the OpenStack client does, with errors that name the fix.

``--os-cloud NAME`` picks an entry of ``clouds.yaml`` (``OS_CLIENT_CONFIG_FILE``, the
current directory, ``~/.config/openstack``, ``/etc/openstack``); without it the usual
``OS_*`` variables are read. Any of those may use ``auth_type: none`` with
``compute_endpoint_override`` / ``placement_endpoint_override`` /
``infra_optim_endpoint_override`` to reach services without Keystone (test benches,
emulators); see the README.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class CloudError(Exception):
    """Something on the way to the cloud failed; the message says what and what to check."""


def connect(cloud: str | None = None):
    """An openstacksdk ``Connection`` whose credentials have been checked (a token obtained)."""
    import os

    from keystoneauth1 import exceptions as ks_exc
    from openstack import connection
    from openstack import exceptions as sdk_exc
    from openstack.config import loader

    where = f"cloud {cloud!r}" if cloud else "the OS_* environment"
    # openstacksdk reads OS_CLIENT_CONFIG_FILE when it is first imported; read it now as well,
    # so that a file named after that (by a wrapper script, or a test) is found
    _quiet_sdk_deprecations()
    files = [os.environ["OS_CLIENT_CONFIG_FILE"]] if os.environ.get("OS_CLIENT_CONFIG_FILE") else []
    try:
        config = loader.OpenStackConfig(config_files=files + list(loader.CONFIG_FILES), load_envvars=cloud is None)
        conn = connection.Connection(config=config.get_one(cloud=cloud))
        conn.session.get_auth_headers()  # authenticate now, so a bad password is named as such
    except sdk_exc.ConfigException as exc:
        if cloud:
            raise CloudError(
                f"{exc} Check the name against 'openstack --os-cloud {cloud} token issue', or the clouds "
                "in clouds.yaml (OS_CLIENT_CONFIG_FILE, ./clouds.yaml, ~/.config/openstack/clouds.yaml)"
            ) from None
        raise CloudError(f"cannot read the cloud configuration: {exc}") from None
    except ks_exc.MissingRequiredOptions as exc:
        raise CloudError(
            f"missing credentials for {where}: {exc}. Pass --os-cloud NAME (an entry of clouds.yaml) or "
            "source an openrc file that sets OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME, .."
        ) from None
    except ks_exc.Unauthorized as exc:
        raise CloudError(f"{where}: Keystone refused the credentials ({exc})") from None
    except ks_exc.ConnectionError as exc:
        raise CloudError(f"{where}: cannot reach the identity service: {exc}") from None
    except ks_exc.ClientException as exc:
        raise CloudError(f"{where}: authentication failed: {exc}") from None
    except (sdk_exc.SDKException, ValueError, TypeError) as exc:
        raise CloudError(f"{where}: cannot connect: {exc}") from None
    return conn


def _quiet_sdk_deprecations() -> None:
    """openstacksdk warns about its own future removals on stderr; operators can do nothing about them."""
    import warnings

    from openstack import warnings as sdk_warnings

    for category in (sdk_warnings.OpenStackDeprecationWarning, sdk_warnings._RemovedInSDKWarning):
        warnings.filterwarnings("ignore", category=category)


UNREACHABLE_FIX = ("check that the service runs and that its endpoint is right (the service catalog, or "
                   "compute_endpoint_override / placement_endpoint_override in clouds.yaml)")


def call(what: str, fn: Callable[[], T], hint: str = "") -> T:
    """Run one API read; any failure becomes a ``CloudError`` naming ``what`` could not be read."""
    from keystoneauth1 import exceptions as ks_exc
    from openstack import exceptions as sdk_exc

    try:
        return fn()
    except sdk_exc.HttpException as exc:
        status = exc.status_code
        if status in (401, 403):
            fix = hint or "the account needs the admin role (or the matching policy rule)"
            raise CloudError(f"could not read {what}: permission denied (HTTP {status}); {fix}") from None
        raise CloudError(f"could not read {what}: HTTP {status}: {_detail(exc)}") from None
    except ks_exc.EndpointNotFound as exc:
        raise CloudError(f"could not read {what}: no endpoint in the service catalog ({exc})") from None
    except (ks_exc.ConnectionError, ks_exc.DiscoveryFailure) as exc:  # refused, or nothing answering discovery
        raise CloudError(f"could not read {what}: endpoint unreachable ({str(exc).rstrip('.')}); {UNREACHABLE_FIX}"
                         ) from None
    except (ks_exc.ClientException, sdk_exc.SDKException) as exc:
        raise CloudError(f"could not read {what}: {exc}") from None


def _detail(exc) -> str:
    text = getattr(exc, "details", None) or getattr(exc, "message", None) or str(exc)
    return str(text).strip()
