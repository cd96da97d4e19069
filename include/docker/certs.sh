#!/usr/bin/env bash
# One-shot `certs` service (runs in the Elasticsearch image, as root): create the CA and
# the certificates of es01 and kibana with elasticsearch-certutil, once. Later runs find
# them in the `certs` volume and do nothing. To renew: remove the volume's files and rerun.
set -euo pipefail

cd /usr/share/elasticsearch
certs=config/certs
public_host="${PUBLIC_HOSTNAME:?set PUBLIC_HOSTNAME in .env}"

if [ ! -f "$certs/ca/ca.crt" ]; then
  echo "certs: creating the CA"
  bin/elasticsearch-certutil ca --silent --pem --out "$certs/ca.zip"
  unzip -q -o "$certs/ca.zip" -d "$certs"
  rm -f "$certs/ca.zip"
fi

if [ ! -f "$certs/es01/es01.crt" ] || [ ! -f "$certs/kibana/kibana.crt" ]; then
  echo "certs: creating node and Kibana certificates (Kibana also for ${public_host})"
  cat > "$certs/instances.yml" <<YAML
instances:
  - name: es01
    dns: [es01, localhost, "${public_host}"]
    ip: [127.0.0.1]
  - name: kibana
    dns: [kibana, localhost, "${public_host}"]
    ip: [127.0.0.1]
YAML
  bin/elasticsearch-certutil cert --silent --pem --in "$certs/instances.yml" \
    --out "$certs/certs.zip" --ca-cert "$certs/ca/ca.crt" --ca-key "$certs/ca/ca.key"
  unzip -q -o "$certs/certs.zip" -d "$certs"
  rm -f "$certs/certs.zip"
fi

# Group 0 may read: Elasticsearch, Kibana and Airflow all run with gid 0 in their images.
chown -R root:root "$certs"
find "$certs" -type d -exec chmod 750 {} +
find "$certs" -type f -exec chmod 640 {} +
echo "certs: ready"
