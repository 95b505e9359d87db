"""forumctl, the management CLI."""
