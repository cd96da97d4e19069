"""Child process of test_fab_auth: Airflow's API app with the FAB auth manager, in process.

Airflow's configuration is per process, hence the child. Prints one ``RESULT {json}`` line:
the HTTP status of each (who, method, route) asked for on argv[1] (a JSON list).
"""

from __future__ import annotations

import json
import sys

from airflow.api_fastapi.app import create_app
from fastapi.testclient import TestClient


def main() -> None:
    asks = json.loads(sys.argv[1])
    passwords = json.loads(sys.argv[2])
    client = TestClient(create_app("core"), follow_redirects=False)
    tokens = {}
    for user, password in passwords.items():
        answer = client.post("/auth/token", json={"username": user, "password": password})
        answer.raise_for_status()
        tokens[user] = answer.json()["access_token"]
    results = []
    for user, method, path in asks:
        headers = {"Authorization": f"Bearer {tokens[user]}"} if user else {}
        results.append(client.request(method, path, headers=headers).status_code)
    print("RESULT " + json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
