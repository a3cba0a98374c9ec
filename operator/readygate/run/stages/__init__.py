"""One module per check: how the run measures it. Each takes a ``run.context.RunContext`` and
the resolved ``Endpoint``, gathers observations through the context's seams, has them judged by
its ``judge`` module, and records the result through the context."""
