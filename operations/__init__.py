"""The operations interface: how people and tools reach the case workflows (CLI now; API later)."""
