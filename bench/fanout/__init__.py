"""Fan-out benchmark: one lean Socket.IO load generator against our chat path and two bare peers."""
