"""Extract: a fetched page becomes an article document (trafilatura + site profiles, language).

CPU-bound and pure, run in worker processes; may import text and crawl (the fetched page,
URLs) and the core modules, never anything that talks to Elasticsearch.
"""
