"""A module that fails at import: the init error test."""

raise RuntimeError("init explodes")


def handler(event, context):
    return "never"
