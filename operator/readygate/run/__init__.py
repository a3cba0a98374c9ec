"""One run of a ReadinessCheck and the actors it uses: ``runner`` (the run, stage by stage),
``context`` (what a stage may use), ``stages/`` (one module per check), ``prober`` (HTTP; the
only module that imports httpx), ``scrape`` (a target's /metrics and PromQL, bounded),
``resolver`` (the target), ``disruptor`` (deleting pods),
``loadrunner`` and ``loadjobs`` (the load, off the event loop), ``gatekeeper`` (pod readiness
gates). Observe and act here; decide in ``judge``; persist through ``status.writer``."""
