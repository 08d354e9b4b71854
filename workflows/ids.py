"""Workflow ids, derived from the opaque case id only (never from personal data)."""


def case_workflow_id(case_id: str) -> str:
    return f"case-{case_id}"


def trajectory_workflow_id(case_id: str) -> str:
    """The spoor 2 trajectory of a case: a child of the case workflow."""
    return f"case-{case_id}-spoor2"
