"""Database plumbing: the declarative base and the unit of work."""
