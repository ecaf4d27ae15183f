"""Runs the Procfile's web command as if python-socketio had been upgraded (test helper).

`python -m tests.realtime.fanout_mismatch_server <uvicorn args>`: importlib.metadata reports
another python-socketio version before anything imports the app, which is what the engine's
import-time check reads, so the process starts on the stock python-socketio fallback.
"""

from __future__ import annotations

import sys
from importlib import metadata

FAKE_VERSION = "5.99.0"
_real_version = metadata.version


def _version(name: str) -> str:
    return FAKE_VERSION if name == "python-socketio" else _real_version(name)


metadata.version = _version

if __name__ == "__main__":
    import uvicorn.main

    sys.argv = ["uvicorn", *sys.argv[1:]]
    uvicorn.main.main()
