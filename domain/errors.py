"""Errors the domain raises; the workflow turns them into update rejections."""


class ActionRefused(ValueError):
    """An action that does not fit the case; the message names the field or rule and the reason."""
