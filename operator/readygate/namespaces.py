"""Which namespaces a glob ``--namespace`` serves: kopf's discovery, with one gap closed.

kopf (1.45) finds the namespaces matching a pattern in two steps: its namespace observer lists
them once, then starts a watch whose own initial listing is replayed as type-``None`` events,
and the observer ignores those. A namespace created between the two listings, or while the
watch is being re-established after "410 Gone" (which lists again), is therefore never served
until something modifies it, typically its deletion. Measured here: a namespace created as the
operator started had no verdict for 180 s, until the test deleted it.

:func:`install` makes the observer apply those listed namespaces too. That is the very revision
kopf makes from its own first listing (add what matches and is not being deleted), so applying
it again is idempotent. Only glob patterns need it: exact names and the cluster-wide mode do no
namespace discovery at all.
"""

from __future__ import annotations

from typing import Any

from kopf._core.reactor import observation


async def apply_namespace_event(*, raw_event: Any, namespaces: Any, insights: Any,
                                **_: Any) -> None:
    """kopf's namespace-event processor, applying listed (type ``None``) namespaces as well."""
    async with insights.revised:
        observation.revise_namespaces(raw_events=[raw_event], insights=insights,
                                      namespaces=namespaces)
        insights.revised.notify_all()


def install() -> None:
    """Route kopf's namespace watch through :func:`apply_namespace_event`.

    kopf looks the processor up by name each time it (re)starts the namespace watch, so
    replacing the module attribute before ``kopf.run`` is enough. A kopf without that
    attribute is refused loudly rather than silently serving fewer namespaces.
    """
    if not hasattr(observation, "process_discovered_namespace_event"):
        raise RuntimeError("this kopf has no observation.process_discovered_namespace_event; "
                           "readygate.namespaces must be revisited for this kopf version")
    observation.process_discovered_namespace_event = apply_namespace_event
