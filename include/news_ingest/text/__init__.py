"""Text: pure text logic (Arabic normalisation, folding, phrase matching, topics, watchlists).

No I/O but reading its YAML config; may import only the core modules (settings, configfile,
logs), never another stage.
"""
