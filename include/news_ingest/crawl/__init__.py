"""Crawl: network in, bytes out (feeds, the fetcher, the SSRF guard, charsets, URLs).

May import only the core modules (settings, configfile, logs), never another stage.
"""
