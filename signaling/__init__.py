"""Lawroom's wire protocol and the server-side signaling that speaks it."""
