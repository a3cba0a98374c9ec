"""Starting the operator: kopf's settings for the namespaces it serves, and ``kopf.run``.

Called by ``readygate run``; the handlers it registers live in ``control.handlers``.
"""

from __future__ import annotations

import kopf


def run_operator(namespaces: list[str], *, liveness: str, verbose: bool) -> None:
    import readygate.control.handlers  # noqa: F401 - registers the handlers

    kopf.configure(verbose=verbose)
    # Without glob patterns there is nothing to discover at run time: kopf's scanning of
    # namespaces and CRDs (which needs list/watch on both) is turned off in handlers.configure.
    globs = any(set(p) & set("*?!") for p in namespaces)
    if globs:
        from readygate.control.namespaces import install

        install()
    kopf.run(standalone=True, clusterwide=not namespaces, namespaces=namespaces,
             liveness_endpoint=liveness, memo=kopf.Memo(scan=globs))
