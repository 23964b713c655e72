"""Simulated nights: the sandbox's clock moves one day at a time, each day bringing normal
activity (or chosen anomalies) to every source, with its ground truth recorded.

`advance.advance` is the entry point (`elt-sandbox advance`, `api.advance`).
"""
