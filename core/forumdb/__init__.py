"""forumdb: a forum's data on DynamoDB (or local JSON files), its services and its CLI."""

__version__ = "0.1.0"
