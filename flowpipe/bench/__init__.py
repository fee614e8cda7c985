"""Benchmarks run by `flowpipe bench`; each returns a JSON-ready dict."""
