"""The course's figures, by topic (matplotlib; each function returns a Figure)."""
