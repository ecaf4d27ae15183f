"""The exact library versions the fan-out engine was written against, checked at import."""

from __future__ import annotations

from importlib import metadata

# The engine overrides private methods and reads private attributes of these: any other version
# may have moved them, so it is not trusted until someone re-reads the hooked code and updates
# this table (tests/realtime/test_conformance.py and test_fanout_engine.py are the check).
WRITTEN_AGAINST = {
    "python-socketio": "5.18.1",
    "python-engineio": "4.15.1",
    "uvicorn": "0.54.0",
    "websockets": "17.4",
}


def mismatches() -> list[tuple[str, str, str]]:
    """(package, expected, installed) for each package not at its expected version."""
    found = []
    for package, expected in WRITTEN_AGAINST.items():
        try:
            installed = metadata.version(package)
        except metadata.PackageNotFoundError:
            installed = "missing"
        if installed != expected:
            found.append((package, expected, installed))
    return found
