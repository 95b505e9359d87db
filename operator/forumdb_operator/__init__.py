"""The forumdb Kopf operator: ForumDatabase -> DynamoDB tables, replicas, PITR, backups, alarms.

Modules, each with one job (plain Python except handlers/main/webhook, the Kopf wiring):
- spec: the spec as pydantic models plus the cross-field rules (errors name the field);
  backup_schedule: AWS Backup's cron rules
- desired: spec -> desired state, from forumdb.tables (the one table layout)
- observed: AWS -> observed state, read calls only
- diff/: (desired, observed) -> ordered actions, things to wait for, problems; one module per
  feature (tables, replicas, pitr, autoscaling, backups, alarms, deletion)
- apply: actions -> boto3 calls, errors mapped to transient/permanent
- status: conditions, phase and the printer-column summaries
- reconcile: one reconcile (observe -> diff -> apply passes) and one deletion step
- configmap: the ConfigMap forumdb-NAME for the services (AWS_REGION: the active region)
- failover: region health from checks, and which region the services should use (plain rules)
- health: the health checks of each region's tables and the failover they trigger
- kube: every Kubernetes write (status, the ConfigMap, Kopf's peering)
- loops: the reconcile loop and the health loop of each resource, and its deletion step;
  guard: one AWS writer per resource (a reconcile stops and stands down once deletion begins)
- runtime: what the handlers share, handed to Kopf in its memo
- immutable, awsclients, errors, metrics: fields fixed once tables exist, cached counted
  clients, error mapping, Prometheus metrics
- handlers: the Kopf decorators (two daemons per resource, spec wake-up, delete finalizer,
  start-up settings); webhook: the optional validating admission webhook
- main: the `forum-operator` command line
(Names and tags of what the operator creates are in forumdb.naming, shared with forumctl.)
"""
