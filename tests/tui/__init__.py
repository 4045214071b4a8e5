"""Tests of the dashboard (morec tui)."""
