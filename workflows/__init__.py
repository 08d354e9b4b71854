"""Temporal workflows: one durable `SickLeaveCase` per sick-leave case."""
