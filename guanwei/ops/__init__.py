"""Operations: the worker (heartbeat + periodic jobs), the one schedule, the status page,
/healthz, configuration checks, the demo seed and the `demo` / `run` / `worker` commands."""
