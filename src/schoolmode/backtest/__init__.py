"""Backtests: replay history through the same engine, policy by policy, and compare."""
