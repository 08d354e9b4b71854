"""Temporal activities: the case's side effects (notifications; documents later)."""
