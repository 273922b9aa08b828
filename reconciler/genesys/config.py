"""Connection settings from the environment.

Effectful only in that it reads ``os.environ`` (passed in, so tests give a
dict). Uses the variable names of Genesys's own CLI and Terraform provider.
The client secret is wrapped in ``Secret`` so that no repr, log line or
traceback can print it, and a plain-HTTP URL is refused unless its host is
loopback (the sandbox): over ``http://`` the secret and every bearer token
would cross the network in clear text. Proxies and private certificate
authorities come from the standard variables (``HTTPS_PROXY``, ``NO_PROXY``,
``SSL_CERT_FILE``), which httpx honours; nothing here overrides them.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from reconciler.errors import ConfigError
from reconciler.genesys.regions import REGION_DOMAINS, api_url, login_url

__all__ = [
    "ENV_API_URL",
    "ENV_CLIENT_ID",
    "ENV_CLIENT_SECRET",
    "ENV_LOGIN_URL",
    "ENV_REGION",
    "Connection",
    "Secret",
    "connection_from_env",
    "is_loopback",
]

ENV_CLIENT_ID = "GENESYSCLOUD_OAUTHCLIENT_ID"
ENV_CLIENT_SECRET = "GENESYSCLOUD_OAUTHCLIENT_SECRET"  # noqa: S105  # a variable name, not a secret
ENV_REGION = "GENESYSCLOUD_REGION"
ENV_API_URL = "GENESYSCLOUD_API_URL"
ENV_LOGIN_URL = "GENESYSCLOUD_LOGIN_URL"

DEFAULT_REGION = "us-east-1"

log = logging.getLogger("reconciler.genesys.config")


class Secret:
    """A string that refuses to show itself. ``reveal()`` is the only way out."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))


@dataclass(frozen=True)
class Connection:
    client_id: str
    client_secret: Secret
    region: str
    api_url: str
    login_url: str

    @property
    def secret_values(self) -> tuple[str, ...]:
        """Strings that must never be printed (used by the log redaction filter)."""
        return (self.client_secret.reveal(),)


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1: traffic that never leaves the machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(name: str, value: str) -> None:
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        parts.port  # noqa: B018  # raises ValueError on a port that is not a number
    except ValueError:
        raise ConfigError(f"{name} is not a valid URL") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ConfigError(f"{name} must be an https:// URL with a host")
    if parts.scheme == "http" and not is_loopback(host):
        # Only scheme and host are shown: the rest of a URL can carry credentials.
        raise ConfigError(
            f"{name} uses plain HTTP (http://{host}): the client secret and tokens would travel in clear "
            f"text; use https:// (plain HTTP is accepted only for a loopback host such as the sandbox)"
        )


def _region_of(url: str) -> str | None:
    """The Genesys region whose domain serves this URL, if it is one of theirs."""
    host = (urlsplit(url).hostname or "").lower()
    for region, domain in REGION_DOMAINS.items():
        if host in (f"api.{domain}", f"login.{domain}"):
            return region
    return None


def connection_from_env(env: Mapping[str, str]) -> Connection:
    """Build the connection, or raise ConfigError naming every missing variable at once."""
    client_id = env.get(ENV_CLIENT_ID, "").strip()
    secret = env.get(ENV_CLIENT_SECRET, "")
    missing = [name for name, value in ((ENV_CLIENT_ID, client_id), (ENV_CLIENT_SECRET, secret.strip())) if not value]
    if missing:
        raise ConfigError(
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: export the OAuth client's "
            f"id and secret (client-credentials grant), or run `reconciler sandbox` for a local org"
        )
    given_region = env.get(ENV_REGION, "").strip()
    region = given_region or DEFAULT_REGION
    explicit_api = env.get(ENV_API_URL, "").strip().rstrip("/")
    explicit_login = env.get(ENV_LOGIN_URL, "").strip().rstrip("/")
    if not explicit_api and region not in REGION_DOMAINS:
        known = ", ".join(sorted(REGION_DOMAINS))
        raise ConfigError(f"{ENV_REGION}={region!r} is not a Genesys Cloud region; known: {known}")
    for name, value in ((ENV_API_URL, explicit_api), (ENV_LOGIN_URL, explicit_login)):
        if value:
            _check_url(name, value)
    path = urlsplit(explicit_api).path.rstrip("/") if explicit_api else ""
    if path.lower().endswith(("/api/v2", "/api")):
        # Every endpoint path already starts with /api/v2; with it in the base URL too, the
        # token request goes to .../api/v2/oauth/token and fails as if the credentials were wrong.
        parts = urlsplit(explicit_api)  # only scheme, host and port are shown: the rest can carry credentials
        base = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        raise ConfigError(
            f"{ENV_API_URL} ends in {path}: give the base URL only ({base}); "
            f"reconciler adds /api/v2 to each request itself"
        )
    if explicit_api and given_region:
        served = _region_of(explicit_api)
        if served is not None and served != given_region:
            log.warning(
                "%s=%s is ignored: %s (host %s) is in region %s, and that is the one used",
                ENV_REGION,
                given_region,
                ENV_API_URL,
                urlsplit(explicit_api).hostname,
                served,
            )
    api = explicit_api or api_url(region)
    # A private endpoint (or the sandbox) given only as an API URL serves login too.
    login = explicit_login or (explicit_api if explicit_api else login_url(region))
    return Connection(client_id=client_id, client_secret=Secret(secret), region=region, api_url=api, login_url=login)
