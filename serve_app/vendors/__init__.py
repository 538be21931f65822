"""Vendor surfaces: one package per vendor whose public API this server also speaks, each
declaring `SURFACE` (serve_app/api/surface.py). Only serve_app/ingress.py imports them."""
