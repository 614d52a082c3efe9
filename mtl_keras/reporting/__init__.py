"""Reporting: test metrics, hierarchy metrics and the files a run writes."""
