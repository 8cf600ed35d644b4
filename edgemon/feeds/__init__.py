"""Feeds: what the dashboard and the headless loop drain (the Feed seam, replay, attach, demo)."""
