"""Local: this machine's stand-ins (the local Elasticsearch node, local mode, the fixture site).

May import only the core modules (settings, configfile, logs), never another stage.
"""
