"""Messages, reactions, read markers, DM conversations and blocks."""
