"""The workflow sandbox's settings, shared by the worker and the replay test."""

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

# pydantic's EmailStr imports email_validator (and idna) on first use, which may be inside a
# workflow: they are pure, so they pass through rather than being re-imported in every sandbox.
WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules("email_validator", "idna")
)
