"""The HTTP edge: dependencies and error translation shared by every router."""
