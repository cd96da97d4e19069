"""Alerting: watchlist alerts derived from indexed state, and their delivery channels.

May import es and text and the core modules; never the runners.
"""
