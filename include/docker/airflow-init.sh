#!/usr/bin/env bash
# One-shot `airflow-init` service: migrate the metadata database (Airflow's and the FAB auth
# manager's tables), then create the three logins, or reset their passwords to the values
# in .env when they exist: admin (Admin), operator (Op), viewer (Viewer). Never printed.
set -euo pipefail

: "${AIRFLOW_ADMIN_USER:?set AIRFLOW_ADMIN_USER in .env}"
: "${AIRFLOW_ADMIN_PASSWORD:?set AIRFLOW_ADMIN_PASSWORD in .env}"
: "${AIRFLOW_OPERATOR_USER:?set AIRFLOW_OPERATOR_USER in .env}"
: "${AIRFLOW_OPERATOR_PASSWORD:?set AIRFLOW_OPERATOR_PASSWORD in .env}"
: "${AIRFLOW_VIEWER_USER:?set AIRFLOW_VIEWER_USER in .env}"
: "${AIRFLOW_VIEWER_PASSWORD:?set AIRFLOW_VIEWER_PASSWORD in .env}"

airflow db migrate
airflow fab-db migrate

# Rows of `users list` start with the numeric id; the name is the second column.
existing="$(airflow users list --output plain | awk '$1 ~ /^[0-9]+$/ {print $2}')"

login() {  # user password role
  if grep -qxF "$1" <<<"$existing"; then
    airflow users reset-password --username "$1" --password "$2" >/dev/null
  else
    airflow users create --username "$1" --password "$2" --role "$3" \
      --firstname "$1" --lastname "news-ingest" --email "$1@news-ingest.invalid" >/dev/null
  fi
  echo "airflow-init: user '$1' ready (role $3)"
}

login "$AIRFLOW_ADMIN_USER" "$AIRFLOW_ADMIN_PASSWORD" Admin
login "$AIRFLOW_OPERATOR_USER" "$AIRFLOW_OPERATOR_PASSWORD" Op
login "$AIRFLOW_VIEWER_USER" "$AIRFLOW_VIEWER_PASSWORD" Viewer
