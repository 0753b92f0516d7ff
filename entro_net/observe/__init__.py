"""Watching a network: live view, sniffer, metrics, recordings and reports.

``view`` (what the live view shows) and ``trajectory`` (what a recording
holds) are sans-IO; ``tap`` owns the sockets, ``render`` draws with rich,
``metrics`` serves Prometheus, ``record`` hooks the coordinator's recording,
``report`` draws PNG plots.
"""
