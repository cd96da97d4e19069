#!/usr/bin/env bash
# One-shot `airflow-init` service: migrate the metadata database and set the admin's
# password for Airflow's simple auth manager from AIRFLOW_ADMIN_PASSWORD (never printed).
set -euo pipefail

: "${AIRFLOW_ADMIN_USER:?set AIRFLOW_ADMIN_USER in .env}"
: "${AIRFLOW_ADMIN_PASSWORD:?set AIRFLOW_ADMIN_PASSWORD in .env}"
: "${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:?}"

airflow db migrate

umask 077
python - <<'PY'
import json
import os
from pathlib import Path

path = Path(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
path.parent.mkdir(parents=True, exist_ok=True)
path.write_text(
    json.dumps({os.environ["AIRFLOW_ADMIN_USER"]: os.environ["AIRFLOW_ADMIN_PASSWORD"]}),
    encoding="utf-8",
)
print(f"airflow-init: admin user {os.environ['AIRFLOW_ADMIN_USER']!r} ready")
PY
