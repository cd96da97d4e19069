"""news_ingest: poll news feeds, extract clean article text, enrich it and index it into
Elasticsearch. Every step is a plain function; Airflow DAGs and the CLI only wire them.

One subpackage per stage a document goes through (crawl, extract, text, es, alerting, local;
each ``__init__`` says what it may import). At the top sit the core modules every stage may
import (settings, configfile, logs) and the runners and wiring, which may import everything.
tests/unit/test_layering.py enforces that no stage imports one above it."""
