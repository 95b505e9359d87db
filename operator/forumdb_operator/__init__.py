"""The forumdb Kopf operator: ForumDatabase -> DynamoDB tables, replicas, PITR, backups, alarms."""
