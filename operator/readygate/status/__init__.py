"""A check's status: ``compute`` (the one pure function from old status and a run's view to the
new status), ``conditions`` (kstatus-shaped condition lists), ``writer`` (the one status
writer) and ``metrics`` (every Prometheus series the operator exports)."""
