"""The only writes outside plan -> apply: `doctor`'s permission probes, and why they are safe.

Every other write to Genesys is a planned change executed by ``genesys/apply``.
``doctor`` must still find out whether the OAuth client may edit users and end
sessions *before* an apply needs it, and Genesys has no "may I?" endpoint, so
it sends the two writes apply makes, addressed so that they cannot change
anyone:

* the user id is the nil UUID (all zeros). Genesys user ids are random
  (version 4) UUIDs, and a version-4 UUID always has the version nibble 4, so
  no user can have this id;
* the PATCH carries ``version`` 0, which no user ever has (versions start at 1),
  so even a user with that id would refuse it as a conflict.

A ``403`` proves the permission is missing. The id is a module constant and
the functions take no user, so nothing a caller passes can aim a probe at a
real person; ``tests/test_probes.py`` checks that no other module sends these
writes outside apply.
"""

from __future__ import annotations

import uuid

from reconciler.genesys.client import GenesysClient

__all__ = ["NIL_USER", "PROBE_VERSION", "probe_edit_users", "probe_end_sessions"]

NIL_USER = str(uuid.UUID(int=0))
PROBE_VERSION = 0

# A real Genesys user id is a version-4 UUID; the nil UUID has no version at all.
assert uuid.UUID(NIL_USER).version is None


def probe_edit_users(client: GenesysClient) -> None:
    """``PATCH /api/v2/users/{nil}`` with version 0: answers 403 without ``directory:user:edit``."""
    client.set_state(NIL_USER, "inactive", PROBE_VERSION)


def probe_end_sessions(client: GenesysClient) -> None:
    """``DELETE /api/v2/tokens/{nil}``: answers 403 without ``oauth:token:delete``."""
    client.revoke_tokens(NIL_USER)
