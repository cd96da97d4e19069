"""news_ingest: poll news feeds, extract clean article text, enrich it and index it into
Elasticsearch. Every step is a plain function; Airflow DAGs and the CLI only wire them."""
