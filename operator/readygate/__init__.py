"""readygate: a Kubernetes operator that measures whether a service is ready for production.

The tree shows what each module may do; ``.importlinter`` (run by ``hack/test``) keeps it so:

    control/  kopf wiring, one supervisor per check, what to do next (kopf only here)
    run/      one run of a check and its stages; prober (httpx only here), resolver, ...
    status/   compute the status, the one writer, conditions, metrics
    judge/    every pure decider: health, security, load, verdict, ... (no I/O)
    kube/     the Kubernetes client (kubernetes only here), object builders, pod state
    report/   the readiness report: a check as Markdown and self-contained HTML (no I/O)
    api/      the ReadinessCheck API: spec, parse, schema, names, settings (no I/O)
    load/     the load engine, a library of its own (no kopf, no kubernetes)
    cli/      the ``readygate`` and ``kubectl-readygate`` commands' front ends

A layer imports only the layers below it. This module stays tiny on purpose: importing
``readygate`` must not pull in kopf, kubernetes or the load engine.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
