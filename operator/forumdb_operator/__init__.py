"""The forumdb Kopf operator: ForumDatabase -> DynamoDB tables, replicas, PITR, backups, alarms.

Modules, each with one job (plain Python except handlers/main):
- naming: names and tags of everything the operator creates (also used by forumctl verify)
- spec: the spec as pydantic models plus the cross-field rules (errors name the field)
- desired: spec -> desired state, from forumdb.tables (the one table layout)
- observed: AWS -> observed state, read calls only
- diff: (desired, observed) -> ordered actions, things to wait for, problems
- apply: actions -> boto3 calls, errors mapped to transient/permanent
- status: conditions, phase and the printer-column summaries
- reconcile: one reconcile (observe -> diff -> apply passes) and one deletion step
- configmap: the ConfigMap forumdb-NAME for the services (AWS_REGION: the active region)
- failover: region health from checks, and which region the services should use (plain rules)
- health: the health checks of each region's tables and the failover they trigger
- awsclients, errors, metrics: cached counted clients, error mapping, Prometheus metrics
- handlers: the Kopf glue (a reconcile loop and a health loop per resource, spec wake-up,
  delete finalizer)
- main: the `forum-operator` command line
"""
