"""Chat: channel and DM messages with gap-free sequence numbers, reactions, read markers."""
