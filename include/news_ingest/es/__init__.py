"""Elasticsearch, the system of record: index templates, the store, search, reindex.

May import text (folding), crawl (feed validators), local (the local node's connection)
and the core modules; never extract, alerting or the runners.
"""
