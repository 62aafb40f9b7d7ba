"""Closed forms derived in ``proofs/`` (sympy) and verified against simulation."""
