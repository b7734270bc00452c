"""gunicorn's config file for a baseline served as `hub serve` serves the hub on SQLite:
each worker on a CPU of its own (hub.ops.cpus). bench/soap.py passes it with `-c`."""

from hub.ops.cpus import WorkerCpus, allowed_cpus

_cpus = WorkerCpus(allowed_cpus())
pre_fork = _cpus.pre_fork
post_fork = _cpus.post_fork
