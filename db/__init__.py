"""Database layer: the Piccolo engine, per-domain table apps and their migrations."""

import os

# Piccolo finds its engine through PICCOLO_CONF; every process imports db first.
os.environ.setdefault("PICCOLO_CONF", "db.piccolo_conf")
