"""Developer tooling: embedded PostgreSQL/Redis, the dev mail catcher and the `make run` supervisor.

Nothing here is imported by the application itself; it only starts and stops the processes
around it (also reused by the test harness in tests/).
"""
