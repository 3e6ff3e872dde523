"""Agent-based transmission simulator for a synthetic school district (see docs/simulator.md)."""
