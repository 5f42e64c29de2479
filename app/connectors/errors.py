"""What a connector's poll or test can fail with: each a sentence a shop owner can act on."""
from __future__ import annotations


class ConnectorError(Exception):
    """A poll or a connection test failed; the message says what and what to do. Nothing was lost:
    the cursor stays where the last applied page left it."""


class AuthFailed(ConnectorError):
    """The shop refused the token or keys (HTTP 401/403): they are wrong, revoked or lack a scope."""


class Unreachable(ConnectorError):
    """The shop could not be reached (DNS, connection refused, timeout, TLS)."""


class Throttled(ConnectorError):
    """The shop kept refusing for its rate limit after every wait; the next poll tries again."""


class ConnectionRemoved(ConnectorError):
    """The connection was removed while it was being polled: the poll ends, applying nothing more."""
