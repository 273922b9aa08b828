"""The baseline: deactivation the way the usual tutorials do it, one user at a time.

For each email: search for it (taking the first hit), PATCH the user inactive
with the version from the search result, GET the user to verify, revoke its
tokens. Sequential; a 429 sleeps for Retry-After and tries again. It exists
only so benchmarks/run.py can put our numbers next to it; never use it.

    python benchmarks/baseline.py EMAILS_FILE    (GENESYSCLOUD_* from the environment)
"""

from __future__ import annotations

import os
import sys
import time

import httpx


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as fh:
        emails = fh.read().split()
    base = os.environ["GENESYSCLOUD_API_URL"]
    auth = (os.environ["GENESYSCLOUD_OAUTHCLIENT_ID"], os.environ["GENESYSCLOUD_OAUTHCLIENT_SECRET"])
    with httpx.Client(base_url=base, timeout=30) as client:
        token = client.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=auth).json()
        client.headers["Authorization"] = f"Bearer {token['access_token']}"

        def call(method: str, path: str, **kw: object) -> httpx.Response:
            while True:
                resp = client.request(method, path, **kw)  # type: ignore[arg-type]
                if resp.status_code != 429:
                    return resp
                time.sleep(float(resp.headers.get("Retry-After", "1")))

        for email in emails:
            hits = call(
                "POST", "/api/v2/users/search", json={"query": [{"type": "EXACT", "fields": ["email"], "value": email}]}
            ).json()["results"]
            if not hits:
                continue
            user = hits[0]
            call("PATCH", f"/api/v2/users/{user['id']}", json={"state": "inactive", "version": user["version"]})
            call("GET", f"/api/v2/users/{user['id']}")
            call("DELETE", f"/api/v2/tokens/{user['id']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
