"""The three Flask services (users, threads, posts) over the storage layer."""
