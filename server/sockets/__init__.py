"""The socket entry points: connect auth and event handlers, registered on `realtime.sio`.

Importing this package registers them (the ASGI app does, once).
"""

from server.sockets import connect, handlers  # noqa: F401
