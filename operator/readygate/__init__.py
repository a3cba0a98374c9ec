"""readygate: a Kubernetes operator that measures whether a service is ready for production.

The package is layered. Pure modules (``spec``, ``schema``, ``parse``, ``verdict``, ``manifests``,
``diagnosis``, ``status``) take data and return data; ``kube`` is the only module that calls the
Kubernetes API; ``handlers`` wires them together for kopf; ``load`` is a self-contained load
engine that imports neither kopf nor kubernetes. This module stays tiny on purpose: importing
``readygate`` must not pull in kopf, kubernetes or the load engine.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
