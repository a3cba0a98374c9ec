"""Every pure decider: samples, answers and observations in, a ``CheckResult`` (or a decision)
out. Health, the manifest, security, persistence, stability, resilience, the service's own
metrics, load thresholds, availability, crash diagnosis, readiness gates, the target policy and
the verdict. No I/O, no kopf, kubernetes or httpx; may use ``api`` and the ``load`` library's
result types."""
