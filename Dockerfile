# The Airflow image of this project: the official Airflow image plus news-ingest, installed
# from requirements.lock so the container runs exactly the versions the tests ran.
# The Airflow version and Python of the tag must equal the lock's (tests/unit/test_compose.py).
FROM apache/airflow:3.3.2-python3.11

ENV NEWS_INGEST_PROJECT=/opt/airflow/project \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /opt/airflow/project

# Dependencies first (the lock rarely changes, the code often): one cached layer.
COPY --chown=airflow:0 requirements.lock ./
RUN pip install --no-deps -r requirements.lock

# Editable install: news_ingest finds include/elasticsearch, include/config and
# include/kibana next to itself, as it does in a checkout.
COPY --chown=airflow:0 pyproject.toml README.md ./
COPY --chown=airflow:0 include/ include/
COPY --chown=airflow:0 dags/ dags/
COPY --chown=airflow:0 plugins/ plugins/
RUN pip install --no-deps -e .

ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/airflow/project/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/airflow/project/plugins \
    NEWS_INGEST_CONFIG_DIR=/opt/airflow/project/include/config
