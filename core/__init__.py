"""Leaf infrastructure shared by every layer: settings, the Redis client, the job queue."""
