"""The draw-a-digit page: a local HTTP server, its JSON API and static files."""
