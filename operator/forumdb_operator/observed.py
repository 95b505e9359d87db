"""AWS -> observed state, with read calls only (describe/list/get).

What is looked at follows the desired state (its regions, names and prefix) plus the replicas
the primary table reports, so removed regions are still seen. Not-found is a state (None), not
an error; every other failure is classified by forumdb_operator.errors.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from forumdb.ownership import ListedPlan, plans_named, remembered_plan_holds
from forumdb_operator import errors
from forumdb_operator.arns import partition_of, region_of, table_of
from forumdb_operator.desired import AUTOSCALING_POLICY, DesiredAlarms, DesiredState
from forumdb_operator.remembered import Remembered

ClientFactory = Callable[[str, str], Any]
log = logging.getLogger("forumdb_operator.observed")


@dataclass(frozen=True)
class ObservedIndex:
    name: str
    status: str
    key_schema: tuple[tuple[str, str], ...]
    read_capacity: int
    write_capacity: int


@dataclass(frozen=True)
class ObservedReplica:
    region: str
    status: str
    kms_key: str | None


@dataclass(frozen=True)
class ObservedTable:
    name: str
    region: str
    status: str
    arn: str
    key_schema: tuple[tuple[str, str], ...]
    billing_mode: str
    read_capacity: int
    write_capacity: int
    indexes: dict[str, ObservedIndex]
    stream_enabled: bool
    stream_view_type: str | None
    kms_key: str | None  # None: the AWS owned key
    deletion_protection: bool
    replicas: dict[str, ObservedReplica]
    item_count: int
    size_bytes: int
    # Read for every table that exists and is not CREATING or DELETING: the primary's and each
    # replica's, in its own region (a replica is a resource of its own with its own tags, made
    # without the primary's); None where not read.
    tags: dict[str, str] | None = None
    # AttributeDefinitions: name -> S | N | B (what an adoption compares besides the keys)
    attribute_types: dict[str, str] = field(default_factory=dict)
    # DescribeTable's TableId: a UUID that changes when a table of the name is made again
    # (deleted and created by someone else): what a claim is bound to ("" where not answered).
    table_id: str = ""

    @property
    def busy(self) -> bool:
        return self.status != "ACTIVE" or any(i.status != "ACTIVE" for i in self.indexes.values())


@dataclass(frozen=True)
class ObservedPitr:
    enabled: bool
    recovery_period_days: int | None  # None where the endpoint does not report it


# A backup plan with the resource's plan name whose tags do not carry its ownership record:
# someone else's (a person, another resource, another cluster), never touched.
ForeignPlan = ListedPlan


@dataclass
class ObservedBackups:
    vault_arns: dict[str, str | None] = field(default_factory=dict)  # region -> ARN or None
    plan_id: str | None = None  # this resource's plan only (remembered id, or found by tags)
    plan_arn: str | None = None
    plan: dict[str, Any] | None = None  # the BackupPlan document
    selection_id: str | None = None
    selection: dict[str, Any] | None = None  # the BackupSelection document
    last_recovery_point: dict[str, Any] | None = None
    # Plans listed under the resource's plan name that are not its own (by their tags).
    foreign_plans: list[ForeignPlan] = field(default_factory=list)
    # The account's "advanced DynamoDB backup" setting in the plan's region, which copies of
    # DynamoDB backups need (DescribeRegionSettings: ResourceTypeManagementPreference
    # "DynamoDB"); None: not read (no copies asked for) or not answered (`settings_unread`).
    advanced_dynamodb: bool | None = None
    settings_unread: str | None = None


@dataclass
class ObservedAlarms:
    """Ours in the primary region (alarms, the operator-made topic, its e-mail subscriptions),
    and the same in the resource's other regions (`other_*`, by region)."""

    alarms: dict[str, dict[str, Any]] = field(default_factory=dict)
    topic_arn: str | None = None  # the operator-made topic, where it exists
    # e-mail -> subscription ARN, or "PendingConfirmation" / "Deleted" as SNS lists them
    subscriptions: dict[str, str] = field(default_factory=dict)
    other_alarms: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    other_topics: dict[str, str | None] = field(default_factory=dict)
    other_subscriptions: dict[str, dict[str, str]] = field(default_factory=dict)
    # the account-level alarm shared by the operator's resources (primary region) and its tags
    shared: dict[str, Any] | None = None
    shared_tags: dict[str, str] = field(default_factory=dict)

    def alarms_in(self, region: str, primary: str) -> dict[str, dict[str, Any]]:
        return self.alarms if region == primary else self.other_alarms.get(region, {})

    def regions_of_ours(self, primary: str, regions: Iterable[str]) -> tuple[str, ...]:
        """Where ours are kept in shape: the primary region first, then the resource's other
        `regions` and any region ours were found in that left the spec, sorted."""
        return (primary, *sorted((set(regions) | set(self.other_alarms)) - {primary}))

    def topic_in(self, region: str, primary: str) -> str | None:
        return self.topic_arn if region == primary else self.other_topics.get(region)

    def subscriptions_in(self, region: str, primary: str) -> dict[str, str]:
        return self.subscriptions if region == primary else self.other_subscriptions.get(region, {})


@dataclass
class Observed:
    tables: dict[tuple[str, str], ObservedTable | None] = field(default_factory=dict)
    pitr: dict[tuple[str, str], ObservedPitr] = field(default_factory=dict)
    kms_arns: dict[tuple[str, str], str] = field(default_factory=dict)  # (region, key) -> ARN
    backups: ObservedBackups | None = None
    alarms: ObservedAlarms | None = None
    # (ResourceId, ScalableDimension) -> (min, max); policies: the same keys, where ours exists
    scalable_targets: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    scaling_policies: set[tuple[str, str]] = field(default_factory=set)
    # Primary-region tables this resource created or tagged whose owner tag may not be listed
    # yet (ListTagsOfResource is eventually consistent); from the status, not from AWS. Name ->
    # the TableId of the table claimed ("" unbound: an earlier status's bare name): a table of
    # the name with another TableId was made again by someone else, and is not claimed.
    claimed: Mapping[str, str] = field(default_factory=dict)
    # (table name, region) whose PITR an earlier reconcile saw enabled (status.tables): turning
    # it on again is a repair, turning it on the first time is not; from the status too.
    pitr_seen_enabled: frozenset[tuple[str, str]] = frozenset()
    # This resource's status records the tables as its own (status.provisioned for this
    # prefix and region): tables tagged with its name before the UID joined the owner record.
    provisioned_here: bool = False
    # (region, e-mail) the operator subscribed before, or saw listed (status.alarms
    # .subscriptions, and this reconcile's Subscribe calls): never subscribed again by itself.
    subscriptions_asked: frozenset[tuple[str, str]] = frozenset()
    # (table name, region) this reconcile created: UpdateContinuousBackups is refused there for
    # a while (ContinuousBackupsUnavailableException), so PITR waits for the next reconcile.
    just_created: frozenset[tuple[str, str]] = frozenset()
    # (table name, region) of replica tables tagged by this reconcile, and by an earlier one
    # whose tags were not listed then (status.taggedReplicas): ListTagsOfResource may answer
    # the previous set for a few seconds, so these are waited for, not tagged again (for a
    # bounded time: diff.replica_tags.RESEND_AFTER_SECONDS).
    tagged_now: frozenset[tuple[str, str]] = frozenset()
    tags_pending: frozenset[tuple[str, str]] = frozenset()
    # Primary tables whose tags are the ones this resource sent (while it is provisioned:
    # ReadMemo.provisioning), not a listing: their claims stay until a listing confirms them.
    tags_trusted: frozenset[str] = frozenset()

    def table(self, kind: str, region: str) -> ObservedTable | None:
        return self.tables.get((kind, region))

    @property
    def account_id(self) -> str | None:
        for t in self.tables.values():
            if t is not None and t.arn.count(":") >= 5:
                return t.arn.split(":")[4]
        return None

    @property
    def partition(self) -> str:
        return next((partition_of(t.arn) for t in self.tables.values() if t and t.arn), "aws")

    def remembered(self) -> Remembered:
        """The ids this look found, for the next look (a later pass of the same reconcile)."""
        b, a = self.backups, self.alarms
        return Remembered(
            vault_arns={r: arn for r, arn in (b.vault_arns if b else {}).items() if arn},
            plan_id=b.plan_id if b else None,
            selection_id=b.selection_id if b else None,
            topic_arn=a.topic_arn if a else None,
            alarm_regions=frozenset(
                r for r, found in (a.other_alarms if a else {}).items() if found
            )
            if a
            else None,
        )


# Table operations that change nothing ListTagsOfResource answers.
_KEEPS_TAGS = frozenset({"update_table"})


def _pitr_changed(operation: str, key: tuple[str, str], params: Mapping[str, Any]) -> bool:
    """Whether `operation` on table key[0] may have changed the PITR of (table, region) key.
    UpdateTable has no PITR setting (UpdateContinuousBackups is the only call that changes
    it): only the regions whose replica it adds or removes are read again. Without this,
    each new resource read its tables' PITR (DescribeContinuousBackups, 10 a second per
    account) again right after adding their replicas."""
    if operation != "update_table":
        return True
    touched = {
        str(action.get("RegionName"))
        for update in params.get("ReplicaUpdates") or []
        for action in update.values()
        if isinstance(action, Mapping)
    }
    return key[1] in touched


@dataclass
class ReadMemo:
    """What one reconcile has read already: PITR and tags, the reads AWS limits to 10 calls a
    second per account (DescribeContinuousBackups, ListTagsOfResource), and the KMS keys, auto
    scaling, backups and alarms. A later pass of the same reconcile (after its actions) uses
    them instead of reading again, except for what an action changed: PITR it set is known from
    the call that set it, anything else done to a table, and a feature an action touched, is
    read again. A new reconcile starts with an empty memo: drift is always read."""

    pitr: dict[tuple[str, str], ObservedPitr] = field(default_factory=dict)  # (table, region)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)  # primary table -> tags
    # (table, region) -> the tags of a replica table: read once, then known from the calls
    # that change them (a replica ReplicaUpdates creates has none; TagResource's keys added)
    replica_tags: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    # Primary tables whose tags in `tags` are the ones sent, not read (provisioning, or a
    # TagResource/UntagResource of this reconcile): their claims stay until a listing
    trusted: set[str] = field(default_factory=set)
    # Primary table -> the TableId of the table whose tags `tags` holds: a table described with
    # another TableId (deleted and made again) has its tags read, whatever `tags` says.
    tag_ids: dict[str, str] = field(default_factory=dict)
    # Primary table -> the TableId of the table this reconcile created (CreateTable's answer)
    # or tagged (as described before the TagResource): what its claim is bound to.
    claim_ids: dict[str, str] = field(default_factory=dict)
    primary_region: str | None = None  # where `tags` were read
    # Whole features read once ("kms", "autoscaling", "backup", "alarm"), read again after an
    # action of theirs.
    features: dict[str, Any] = field(default_factory=dict)
    # The tables (every region) and their PITR as the last pass saw them, while only backup and
    # alarm actions ran since (they change no table): not described again.
    tables: tuple[dict[Any, Any], dict[Any, Any]] | None = None

    @classmethod
    def provisioning(
        cls,
        previous: Mapping[str, Any],
        generation: int | None,
        sent_tags: Mapping[str, Mapping[str, str]] | None = None,
        pitr_wanted: bool = False,
        claimed: Mapping[str, str] | None = None,
    ) -> ReadMemo:
        """While a spec is being provisioned (the last status: Provisioning, this generation),
        the PITR an earlier reconcile of it saw or set (ENABLED with its period, or DISABLED)
        is not read again (DescribeContinuousBackups: 10 calls a second per account), nor the
        tags of the primary tables it made or tagged itself (`sent_tags`: table -> the tags
        sent, status.claimedTables; ListTagsOfResource: 10 a second per account, and it may
        still answer the previous set): CreateTable and TagResource answered success, so the
        tags are as sent, on the table they were sent to: only a claim bound to a TableId
        (`claimed`: table -> TableId) is taken, and only while DescribeTable answers that
        TableId (Observer.observe: a table made again by someone else is read). A replica the
        last status showed CREATING is new: it has no tags (ReplicaUpdates' Create takes none;
        each replica is tagged in its own region), and where PITR is wanted on, it is enabled
        without reading it first (idempotent; PITR is set per replica). The first drift check
        after Ready reads everything."""
        memo = cls()
        if previous.get("phase") != "Provisioning" or generation is None:
            return memo
        if previous.get("observedGeneration") != generation:
            return memo
        for table, tags in (sent_tags or {}).items():
            table_id = (claimed or {}).get(table)
            if not table_id:
                continue  # unbound (an earlier status's bare name): read, not trusted
            memo.tags[table] = dict(tags)
            memo.tag_ids[table] = table_id
            memo.trusted.add(table)
        for table in previous.get("tables") or []:
            if not isinstance(table, Mapping):
                continue
            for r in table.get("regions") or []:
                if not isinstance(r, Mapping) or not r.get("region"):
                    continue
                key = (str(table.get("name")), str(r["region"]))
                if r.get("role") == "replica" and r.get("status") == "CREATING":
                    memo.replica_tags[key] = {}
                    if pitr_wanted:
                        memo.pitr[key] = ObservedPitr(False, None)
                    continue
                days = r.get("pitrRecoveryPeriodDays")
                if r.get("pitr") == "ENABLED" and isinstance(days, int):
                    memo.pitr[key] = ObservedPitr(True, days)
                elif r.get("pitr") == "DISABLED":  # enabling it again is harmless
                    memo.pitr[key] = ObservedPitr(False, None)
        return memo

    # Topics this reconcile created (CreateTopic's TopicArn): they exist, no need to ask.
    created_topics: set[str] = field(default_factory=set)

    def applied(
        self,
        operation: str,
        region: str,
        params: dict[str, Any],
        feature: str = "",
        response: Any = None,
    ) -> None:
        """An action that succeeded (forumdb_operator.apply), with AWS's answer where known."""
        if self._created(operation, region, params, response):
            return
        for name in ("autoscaling", "backup", "alarm"):
            if feature == name or (name == "alarm" and feature == "topic"):
                self.features.pop(name, None)
        if feature not in ("backup", "alarm", "topic"):
            self.tables = None
        table = str(params.get("TableName") or "") or table_of(params.get("ResourceArn"))
        if not table:
            return
        if operation == "create_table":
            # A new table: PITR off (CreateTable has no PITR setting), and its tags not listed
            # yet ("ListTagsOfResource ... might return ... an empty tag set", TagResource API
            # reference): neither is worth a read in this reconcile.
            self.pitr[(table, region)] = ObservedPitr(False, None)
            self.tags[table] = {}
            description = response.get("TableDescription") if isinstance(response, Mapping) else {}
            self.tag_ids[table] = str((description or {}).get("TableId") or "")
            if region == self.primary_region:
                self.claim_ids[table] = self.tag_ids[table]
            return
        if operation == "tag_resource" and region == self.primary_region:
            # the table as the look before this tag described it
            self.claim_ids[table] = self.tag_ids.get(table, "")
        if self._replica_tags_changed(operation, region, table, params):
            return
        if self._primary_tags_changed(operation, region, table, params):
            return
        if operation == "update_continuous_backups":
            spec = params.get("PointInTimeRecoverySpecification") or {}
            on = bool(spec.get("PointInTimeRecoveryEnabled"))
            period = spec.get("RecoveryPeriodInDays") if on else None
            self.pitr[(table, region)] = ObservedPitr(on, int(period) if period else None)
            return
        # Anything else (tags, replicas, the table itself): read it again; its tags only
        # where it changed them. UpdateTable (a replica, an index, billing, encryption) leaves
        # a table's tags as they were, and ListTagsOfResource is AWS's 10-a-second read: each
        # new resource added its replicas and then listed its tables' tags again.
        if operation not in _KEEPS_TAGS:
            self.tags.pop(table, None)
        for key in [k for k in self.pitr if k[0] == table and _pitr_changed(operation, k, params)]:
            del self.pitr[key]

    def _replica_tags_changed(
        self, operation: str, region: str, table: str, params: dict[str, Any]
    ) -> bool:
        """Tags of replica tables known from what was sent: a replica created by ReplicaUpdates
        has no tags (AWS copies none: each replica is tagged in its own region), and a
        TagResource or UntagResource on a replica whose tags were read changes them as sent.
        True: the action touched only a replica's tags (nothing else to read again)."""
        if operation == "update_table":
            for update in params.get("ReplicaUpdates") or []:
                if "Create" in update:
                    self.replica_tags[(table, update["Create"]["RegionName"])] = {}
                if "Delete" in update:
                    self.replica_tags.pop((table, update["Delete"]["RegionName"]), None)
            return False
        known = self.replica_tags.get((table, region))
        if known is None or operation not in ("tag_resource", "untag_resource"):
            return False
        for tag in params.get("Tags") or []:
            known[str(tag["Key"])] = str(tag["Value"])
        for key in params.get("TagKeys") or []:
            known.pop(str(key), None)
        return True

    def _primary_tags_changed(
        self, operation: str, region: str, table: str, params: dict[str, Any]
    ) -> bool:
        """A primary table's tags known from what was sent: TagResource (adoption, a repair)
        answered success, so they are in place, though ListTagsOfResource may answer the
        previous set for a few seconds; reading them back would only find the stale set."""
        known = self.tags.get(table)
        if region != self.primary_region or known is None:
            return False
        if operation not in ("tag_resource", "untag_resource"):
            return False
        for tag in params.get("Tags") or []:
            known[str(tag["Key"])] = str(tag["Value"])
        for key in params.get("TagKeys") or []:
            known.pop(str(key), None)
        self.trusted.add(table)
        return True

    def _created(self, operation: str, region: str, params: dict[str, Any], response: Any) -> bool:
        """A backup vault, plan or selection, or a topic, this reconcile made: known from what
        was sent and the id AWS answered (CreateBackupVault's BackupVaultArn, CreateBackupPlan's
        BackupPlanId, CreateBackupSelection's SelectionId, CreateTopic's TopicArn), so the next
        pass does not read the feature again to find it. False: read it again."""
        answer = response if isinstance(response, Mapping) else {}
        b = self.features.get("backup")
        if operation == "create_topic" and answer.get("TopicArn"):
            self.created_topics.add(str(answer["TopicArn"]))
            return False  # the alarms are read again (with the topic, without asking for it)
        if not isinstance(b, ObservedBackups):
            return False
        if operation == "create_backup_vault" and answer.get("BackupVaultArn"):
            b.vault_arns[region] = str(answer["BackupVaultArn"])
            return True
        if operation == "create_backup_plan" and answer.get("BackupPlanId"):
            b.plan_id = str(answer["BackupPlanId"])
            b.plan_arn = answer.get("BackupPlanArn")
            b.plan = copy.deepcopy(params.get("BackupPlan"))
            b.selection_id, b.selection = None, None
            b.last_recovery_point = None  # a new plan has made none
            return True
        if (
            operation == "create_backup_selection"
            and answer.get("SelectionId")
            and b.plan_id == params.get("BackupPlanId")
        ):
            b.selection_id = str(answer["SelectionId"])
            b.selection = copy.deepcopy(params.get("BackupSelection"))
            return True
        return False


def _key_schema(raw: list[dict[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((k["AttributeName"], k["KeyType"]) for k in raw)


def parse_table(desc: dict[str, Any], region: str) -> ObservedTable:
    billing = (desc.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
    throughput = desc.get("ProvisionedThroughput") or {}
    indexes = {}
    for gsi in desc.get("GlobalSecondaryIndexes") or []:
        tp = gsi.get("ProvisionedThroughput") or {}
        indexes[gsi["IndexName"]] = ObservedIndex(
            name=gsi["IndexName"],
            status=gsi.get("IndexStatus", "ACTIVE"),
            key_schema=_key_schema(gsi.get("KeySchema", [])),
            read_capacity=int(tp.get("ReadCapacityUnits", 0) or 0),
            write_capacity=int(tp.get("WriteCapacityUnits", 0) or 0),
        )
    stream = desc.get("StreamSpecification") or {}
    sse = desc.get("SSEDescription") or {}
    kms = sse.get("KMSMasterKeyArn") if sse.get("SSEType") == "KMS" else None
    if sse.get("Status") in ("DISABLED", "DISABLING"):
        kms = None
    replicas = {}
    for r in desc.get("Replicas") or []:
        replicas[r["RegionName"]] = ObservedReplica(
            region=r["RegionName"],
            status=r.get("ReplicaStatus", "ACTIVE"),
            kms_key=r.get("KMSMasterKeyId"),
        )
    return ObservedTable(
        name=desc["TableName"],
        region=region,
        status=desc.get("TableStatus", "ACTIVE"),
        arn=desc.get("TableArn", ""),
        key_schema=_key_schema(desc.get("KeySchema", [])),
        billing_mode=billing,
        read_capacity=int(throughput.get("ReadCapacityUnits", 0) or 0),
        write_capacity=int(throughput.get("WriteCapacityUnits", 0) or 0),
        indexes=indexes,
        stream_enabled=bool(stream.get("StreamEnabled")),
        stream_view_type=stream.get("StreamViewType"),
        kms_key=kms,
        deletion_protection=bool(desc.get("DeletionProtectionEnabled")),
        replicas=replicas,
        item_count=int(desc.get("ItemCount", 0) or 0),
        size_bytes=int(desc.get("TableSizeBytes", 0) or 0),
        attribute_types={
            a["AttributeName"]: a["AttributeType"] for a in desc.get("AttributeDefinitions") or []
        },
        table_id=str(desc.get("TableId") or ""),
    )


class Observer:
    """Reads what exists in AWS for one desired state."""

    def __init__(self, clients: ClientFactory) -> None:
        self.clients = clients

    def _call(self, service: str, region: str, op: str, what: str, **kw: Any) -> Any:
        try:
            return getattr(self.clients(service, region), op)(**kw)
        except Exception as exc:
            if errors.is_not_found(exc):
                return None
            raise errors.classify(exc, what, region, service=service) from exc

    def describe_table(self, name: str, region: str) -> ObservedTable | None:
        out = self._call(
            "dynamodb", region, "describe_table", f"describe table {name}", TableName=name
        )
        return parse_table(out["Table"], region) if out else None

    def observe(
        self,
        desired: DesiredState,
        *,
        resolve_kms: bool = True,
        remembered: Remembered | None = None,
        memo: ReadMemo | None = None,
        account_settings: bool = True,
    ) -> Observed:
        """`remembered`: ids found before (status), looked up by id instead of listed; `memo`:
        what an earlier pass of the same reconcile read (PITR, tags), not read again;
        `account_settings` False: the account's AWS Backup settings are not read (deletion)."""
        memo = memo if memo is not None else ReadMemo()
        known = remembered or Remembered()
        obs = Observed()
        if memo.tables is not None:
            obs.tables, obs.pitr = dict(memo.tables[0]), dict(memo.tables[1])
        for t in desired.tables if memo.tables is None else ():
            primary = self.describe_table(t.name, desired.primary_region)
            obs.tables[(t.kind, desired.primary_region)] = primary
            if primary is None:
                continue
            tag_map = self._primary_tags(t.name, primary, desired.primary_region, memo)
            obs.tables[(t.kind, desired.primary_region)] = _with_tags(primary, tag_map)
            regions = [desired.primary_region]
            regions += [r for r in desired.replica_regions if r != desired.primary_region]
            regions += [r for r in primary.replicas if r not in regions]
            for region in regions[1:]:
                replica = self.describe_table(t.name, region)
                if replica is not None and replica.status not in ("CREATING", "DELETING"):
                    # A CREATING replica answers ResourceNotFoundException (DDB-TABLE-298).
                    replica = _with_tags(replica, self._replica_tags(replica, memo))
                obs.tables[(t.kind, region)] = replica
            # Read even when PITR is not managed: the status shows it.
            for region in regions:
                seen = obs.tables.get((t.kind, region))
                # A CREATING table (a new replica) answers TableNotFoundException: not asked.
                if seen is not None and seen.status != "CREATING":
                    read = memo.pitr.get((t.name, region))
                    obs.pitr[(t.kind, region)] = read or self.pitr(t.name, region, memo)
        memo.tables = (dict(obs.tables), dict(obs.pitr))
        obs.tags_trusted = frozenset(memo.trusted)
        if resolve_kms:
            if "kms" not in memo.features:
                self._resolve_kms(desired, obs)
                memo.features["kms"] = dict(obs.kms_arns)
            obs.kms_arns = dict(memo.features["kms"])
        # Also where billing is managed and a table is still PROVISIONED: auto scaling that is
        # not wanted any more is removed before the switch (on-demand tables have none to read).
        if any(
            t.write_autoscaling
            or (
                t.billing_managed
                and any(
                    o is not None and o.billing_mode == "PROVISIONED"
                    for (kind, _), o in obs.tables.items()
                    if kind == t.kind
                )
            )
            for t in desired.tables
        ):
            if "autoscaling" not in memo.features:
                self.autoscaling(desired, obs)
                memo.features["autoscaling"] = (obs.scalable_targets, obs.scaling_policies)
            targets, policies = memo.features["autoscaling"]
            obs.scalable_targets, obs.scaling_policies = dict(targets), set(policies)
        self._backups_and_alarms(desired, known, obs, memo, account_settings)
        return obs

    def _primary_tags(
        self, name: str, primary: ObservedTable, region: str, memo: ReadMemo
    ) -> dict[str, str]:
        """A primary table's tags: known (`memo`) for this very table (its TableId), else
        read (ListTagsOfResource) and remembered."""
        tag_map = memo.tags.get(name)
        if tag_map is not None and memo.tag_ids.get(name, "") != primary.table_id:
            # Known for another table of the name (deleted and made again since): read.
            tag_map = None
            memo.trusted.discard(name)
        if tag_map is None:
            tags = self._call(
                "dynamodb",
                region,
                "list_tags_of_resource",
                f"list tags of table {name}",
                ResourceArn=primary.arn,
            )
            tag_map = {x["Key"]: x["Value"] for x in (tags or {}).get("Tags", [])}
            memo.tags[name] = tag_map
            memo.tag_ids[name] = primary.table_id
            memo.trusted.discard(name)
        return tag_map

    def _backups_and_alarms(
        self,
        desired: DesiredState,
        known: Remembered,
        obs: Observed,
        memo: ReadMemo,
        account_settings: bool,
    ) -> None:
        """The backups and alarms features, each read once until an action of theirs."""
        b = desired.backups
        if b is not None:
            if "backup" not in memo.features:
                memo.features["backup"] = self.backups(desired, known)
            obs.backups = copy.deepcopy(memo.features["backup"])
            # The account setting the copies need, once the plan and its selection exist (what
            # the status would otherwise report as copied): read once a reconcile.
            if account_settings and b.enabled and b.copy_region and obs.backups.selection_id:
                if "backup-settings" not in memo.features:
                    memo.features["backup-settings"] = self._advanced_dynamodb(b.primary_region)
                obs.backups.advanced_dynamodb, obs.backups.settings_unread = memo.features[
                    "backup-settings"
                ]
        if desired.alarms is not None:
            if "alarm" not in memo.features:
                memo.features["alarm"] = self.alarms(
                    desired, known, obs, created=frozenset(memo.created_topics)
                )
            obs.alarms = copy.deepcopy(memo.features["alarm"])

    def _replica_tags(self, table: ObservedTable, memo: ReadMemo) -> dict[str, str]:
        """The tags of a table in a replica region, by its own ARN in its own region (AWS keeps
        a replica's tags apart from the primary's); once per reconcile (memo)."""
        key = (table.name, table.region)
        if key not in memo.replica_tags:
            tags = self._paged(
                "dynamodb",
                table.region,
                "list_tags_of_resource",
                "Tags",
                f"list tags of table {table.name}",
                ResourceArn=table.arn,
            )
            memo.replica_tags[key] = {x["Key"]: x["Value"] for x in tags}
        return dict(memo.replica_tags[key])

    def pitr(self, table: str, region: str, memo: ReadMemo | None = None) -> ObservedPitr:
        out = self._call(
            "dynamodb",
            region,
            "describe_continuous_backups",
            f"describe continuous backups of {table}",
            TableName=table,
        )
        desc = ((out or {}).get("ContinuousBackupsDescription") or {}).get(
            "PointInTimeRecoveryDescription"
        ) or {}
        period = desc.get("RecoveryPeriodInDays")
        seen = ObservedPitr(
            enabled=desc.get("PointInTimeRecoveryStatus") == "ENABLED",
            recovery_period_days=int(period) if period is not None else None,
        )
        if memo is not None and out is not None:  # not a table still being created
            memo.pitr[(table, region)] = seen
        return seen

    def autoscaling(self, desired: DesiredState, obs: Observed) -> None:
        region = desired.primary_region
        ids = [r for t in desired.tables for r, _ in t.autoscaled_resources]
        for page in self._pages(
            "application-autoscaling",
            region,
            "describe_scalable_targets",
            "describe scalable targets",
            ServiceNamespace="dynamodb",
            ResourceIds=ids,
        ):
            for t in page.get("ScalableTargets", []):
                key = (t["ResourceId"], t["ScalableDimension"])
                obs.scalable_targets[key] = (int(t["MinCapacity"]), int(t["MaxCapacity"]))
        # By ResourceId (the API's filter takes one): the account's other policies are not read.
        # Only where a scalable target exists: a policy needs its target ("You must register
        # the scalable target before you can apply a scaling policy", PutScalingPolicy), and
        # DeregisterScalableTarget deletes the target's policies (Application Auto Scaling API
        # reference); an on-demand table has none, so its check costs one call.
        targeted = {resource_id for resource_id, _ in obs.scalable_targets}
        for resource_id in (r for r in dict.fromkeys(ids) if r in targeted):
            for page in self._pages(
                "application-autoscaling",
                region,
                "describe_scaling_policies",
                f"describe scaling policies of {resource_id}",
                ServiceNamespace="dynamodb",
                ResourceId=resource_id,
                PolicyNames=[AUTOSCALING_POLICY],
            ):
                for p in page.get("ScalingPolicies", []):
                    if p.get("PolicyName") == AUTOSCALING_POLICY:
                        obs.scaling_policies.add((p["ResourceId"], p["ScalableDimension"]))

    def _resolve_kms(self, desired: DesiredState, obs: Observed) -> None:
        """Key ids and aliases -> ARNs (to compare with what DynamoDB reports); a key that does
        not exist is a spec that cannot work."""
        wanted: set[tuple[str, str]] = set()
        for t in desired.tables:
            if t.kms_key:
                wanted.add((desired.primary_region, t.kms_key))
            for region, key in t.replica_kms_keys.items():
                if key:
                    wanted.add((region, key))
        for region, key in sorted(wanted):
            try:
                out = self.clients("kms", region).describe_key(KeyId=key)
            except Exception as exc:
                if errors.is_not_found(exc):
                    field_name = (
                        "spec.encryption.kmsKeyId"
                        if region == desired.primary_region
                        else f"spec.encryption.replicaKmsKeyIds.{region}"
                    )
                    raise errors.PermanentError(
                        f"{field_name}: KMS key {key!r} not found in {region}",
                        region=region,
                        reason="KMSKeyNotFound",
                    ) from exc
                raise errors.classify(
                    exc, f"describe KMS key {key}", region, service="kms"
                ) from exc
            obs.kms_arns[(region, key)] = out["KeyMetadata"]["Arn"]

    def backups(self, desired: DesiredState, known: Remembered | None = None) -> ObservedBackups:
        """The vaults, the resource's plan and selection, its newest recovery point."""
        b = desired.backups
        assert b is not None
        known = known or Remembered()
        out = ObservedBackups()
        regions = [b.primary_region] + ([b.copy_region] if b.copy_region else [])
        for region in regions:
            out.vault_arns[region] = self._vault_arn(
                b.vault_name, region, known.vault_arns.get(region)
            )
        region = b.primary_region
        plan = self._plan_by_id(b.plan_name, region, known.plan_id)
        if plan is None:
            plan, out.foreign_plans = self._plan_by_listing(desired, b.plan_name, region)
        if plan is not None:
            out.plan_id = plan["BackupPlanId"]
            out.plan_arn = plan.get("BackupPlanArn")
            out.plan = plan.get("BackupPlan")
            sel = self._selection_by_id(b.selection_name, region, out.plan_id, known.selection_id)
            if sel is None:
                selections = self._paged(
                    "backup",
                    region,
                    "list_backup_selections",
                    "BackupSelectionsList",
                    f"list backup selections of {b.plan_name}",
                    BackupPlanId=out.plan_id,
                )
                match = next(
                    (s for s in selections if s.get("SelectionName") == b.selection_name), None
                )
                if match is not None:
                    sel = self._selection_by_id(
                        b.selection_name, region, out.plan_id, match["SelectionId"]
                    )
            if sel is not None:
                out.selection_id = sel["SelectionId"]
                out.selection = sel.get("BackupSelection")
        if out.vault_arns.get(region):
            out.last_recovery_point = self._last_recovery_point(b.vault_name, region, out.plan_id)
        return out

    def _plan_by_listing(
        self, desired: DesiredState, name: str, region: str
    ) -> tuple[dict[str, Any] | None, list[ForeignPlan]]:
        """The plan called `name` whose tags (ListTags of its ARN) carry this resource's
        ownership record, and the plans of that name that are someone else's. The name alone
        proves nothing: a plan made by a person, another resource or another cluster under the
        same name would be adopted, changed and, with deletionPolicy Delete, deleted."""
        plans = self._paged(
            "backup", region, "list_backup_plans", "BackupPlansList", "list backup plans"
        )

        def tags_of(arn: str) -> dict[str, str]:
            got = self._call(
                "backup",
                region,
                "list_tags",
                f"list tags of backup plan {name} ({arn})",
                ResourceArn=arn,
            )
            return dict((got or {}).get("Tags") or {})

        foreign: list[ForeignPlan] = []
        for listed, ours in plans_named(plans, name, desired.record, tags_of):
            if not ours:
                foreign.append(listed)
                continue
            plan = self._plan_by_id(name, region, listed.plan_id)
            if plan is not None:
                return plan, []
        return None, foreign

    def _advanced_dynamodb(self, region: str) -> tuple[bool | None, str | None]:
        """ResourceTypeManagementPreference["DynamoDB"] of DescribeRegionSettings: whether AWS
        Backup's advanced DynamoDB backup is on for the account in `region` (off, copies of the
        tables' backups to another region fail). A role without backup:DescribeRegionSettings
        (policies written before the operator read it) leaves it unknown, said in the status,
        rather than failing the reconcile."""
        try:
            got = self.clients("backup", region).describe_region_settings()
        except Exception as exc:
            if errors.error_code(exc) in errors.ACCESS_DENIED_CODES:
                why = f"backup:DescribeRegionSettings in {region} was denied"
                log.warning("cannot read AWS Backup region settings", extra={"region": region})
                return None, why
            raise errors.classify(
                exc, "describe AWS Backup region settings", region, service="backup"
            ) from exc
        value = (got.get("ResourceTypeManagementPreference") or {}).get("DynamoDB")
        if value is None:
            return None, f"DescribeRegionSettings in {region} did not report DynamoDB"
        return bool(value), None

    def _plan_by_id(self, name: str, region: str, plan_id: str | None) -> dict[str, Any] | None:
        """GetBackupPlan of a known id: the plan, when it exists, is not deleted and still has
        our name (forumdb.ownership.remembered_plan_holds, the rule verify shares)."""
        if not plan_id:
            return None
        got = self._call(
            "backup", region, "get_backup_plan", f"get backup plan {name}", BackupPlanId=plan_id
        )
        if got is None or not remembered_plan_holds(got, name):
            return None
        return {**got, "BackupPlanId": got.get("BackupPlanId") or plan_id}

    def _selection_by_id(
        self, name: str, region: str, plan_id: str, selection_id: str | None
    ) -> dict[str, Any] | None:
        if not selection_id:
            return None
        got = self._call(
            "backup",
            region,
            "get_backup_selection",
            f"get backup selection {name}",
            BackupPlanId=plan_id,
            SelectionId=selection_id,
        )
        if not got or (got.get("BackupSelection") or {}).get("SelectionName") != name:
            return None
        return {**got, "SelectionId": got.get("SelectionId") or selection_id}

    def _vault_arn(self, vault: str, region: str, known_arn: str | None = None) -> str | None:
        """The vault's ARN, or None where it does not exist. A vault seen before is described
        by name; one not seen before, or whose description fails, is found by listing: AWS
        answers DescribeBackupVault of a missing vault with AccessDeniedException (403), the
        same answer as a real permission problem (aws-sdk-js#2625, boto3#2269)."""
        if known_arn and known_arn.endswith(f":{vault}") and region_of(known_arn) == region:
            try:
                got = self.clients("backup", region).describe_backup_vault(BackupVaultName=vault)
                if got.get("BackupVaultName") == vault and got.get("BackupVaultArn"):
                    return str(got["BackupVaultArn"])
            except Exception as exc:
                gone = errors.is_not_found(exc)
                if not gone and errors.error_code(exc) not in errors.ACCESS_DENIED_CODES:
                    raise errors.classify(
                        exc, f"describe backup vault {vault}", region, service="backup"
                    ) from exc
        vaults = self._paged(
            "backup", region, "list_backup_vaults", "BackupVaultList", "list backup vaults"
        )
        return next(
            (v.get("BackupVaultArn") for v in vaults if v.get("BackupVaultName") == vault), None
        )

    def _last_recovery_point(
        self, vault: str, region: str, plan_id: str | None = None
    ) -> dict[str, Any] | None:
        """The newest completed recovery point of a vault that exists, made by the resource's
        plan when it has one (ByBackupPlanId: a vault shared by many plans is not listed whole);
        informational, so a failure to list them is logged and does not fail the reconcile, but
        access denied is a permission problem of the operator's role and is reported as one."""
        by_plan = {"ByBackupPlanId": plan_id} if plan_id else {}
        try:
            points = self._paged(
                "backup",
                region,
                "list_recovery_points_by_backup_vault",
                "RecoveryPoints",
                f"list recovery points of vault {vault}",
                BackupVaultName=vault,
                **by_plan,
            )
        except errors.ReconcileError as exc:
            if exc.code in errors.ACCESS_DENIED_CODES:
                raise
            log.warning(
                "cannot list recovery points",
                extra={"vault": vault, "region": region, "cause": str(exc)},
            )
            return None
        done = [p for p in points if p.get("Status") in (None, "COMPLETED")]
        if not done:
            return None
        return max(done, key=lambda p: str(p.get("CreationDate") or ""))

    def alarms(
        self,
        desired: DesiredState,
        known: Remembered | None = None,
        obs: Observed | None = None,
        created: frozenset[str] = frozenset(),
    ) -> ObservedAlarms:
        """`created`: topic ARNs this reconcile made (CreateTopic's answer), not asked for."""
        a = desired.alarms
        assert a is not None
        out = ObservedAlarms()
        everywhere = _alarms_everywhere(a, known)
        seen_in = (known.alarm_regions if known is not None else None) or frozenset()
        own = a.regions or (a.region,)
        # a region the status saw ours in that left the spec (a replica removed): ours there
        # are found and removed too
        for region in (*own, *sorted(seen_in - set(own))):
            if not everywhere and region not in seen_in and region not in a.alarm_regions:
                # No alarm of ours there at the last look, and none wanted: nothing to remove.
                # (ReplicationLatency alarms move with the active region; the region they
                # leave is in the last status until a look finds it empty.)
                continue
            found: dict[str, dict[str, Any]] = {}
            for page in self._pages(
                "cloudwatch",
                region,
                "describe_alarms",
                f"describe alarms {a.prefix}*",
                AlarmNamePrefix=a.prefix,
            ):
                for alarm in page.get("MetricAlarms", []):
                    found[alarm["AlarmName"]] = alarm
            if region == a.region:
                out.alarms = found
            elif found:
                out.other_alarms[region] = found
        if a.shared is not None:
            self._shared_alarm(a.shared.alarm.name, a.region, out)
        if a.topic_arn:
            out.subscriptions = self._subscriptions(a.topic_arn, a.region, a.emails)
        # The operator's topic in every region (one a failover left behind is removed on
        # deletion); its subscriptions only where alarms notify it.
        for region in (a.regions or (a.region,)) if a.create_topic_name else ():
            topic_arn = next(
                (
                    t
                    for t in created
                    if t.endswith(":" + str(a.create_topic_name)) and region_of(t) == region
                ),
                None,
            ) or self._topic_arn(str(a.create_topic_name), region, known, obs)
            subs = (
                self._subscriptions(topic_arn, region, a.emails)
                if topic_arn and region in a.topic_regions
                else {}
            )
            if region == a.region:
                out.topic_arn, out.subscriptions = topic_arn, subs
            else:
                out.other_topics[region] = topic_arn
                out.other_subscriptions[region] = subs
        return out

    def _shared_alarm(self, name: str, region: str, out: ObservedAlarms) -> None:
        """The shared account-level alarm by its name, and its tags (who uses it)."""
        found = [
            alarm
            for page in self._pages(
                "cloudwatch", region, "describe_alarms", f"describe alarm {name}", AlarmNames=[name]
            )
            for alarm in page.get("MetricAlarms", [])
            if alarm.get("AlarmName") == name
        ]
        if not found:
            return
        out.shared = found[0]
        arn = str(found[0].get("AlarmArn", ""))
        got = self._call(
            "cloudwatch",
            region,
            "list_tags_for_resource",
            f"list tags of alarm {name}",
            ResourceARN=arn,
        )
        out.shared_tags = {t["Key"]: t["Value"] for t in (got or {}).get("Tags", [])}

    def _subscriptions(self, topic_arn: str, region: str, emails: tuple[str, ...]) -> dict:
        """e-mail -> SubscriptionArn as ListSubscriptionsByTopic lists it; nothing is read
        when no e-mail is wanted."""
        out: dict[str, str] = {}
        if not emails:
            return out
        subs = self._paged(
            "sns",
            region,
            "list_subscriptions_by_topic",
            "Subscriptions",
            f"list subscriptions of {topic_arn}",
            TopicArn=topic_arn,
        )
        for s in subs:
            # An address listed twice (a Deleted one and a new one): keep the live one.
            if s.get("Protocol") == "email" and out.get(s["Endpoint"]) in (None, "Deleted"):
                out[s["Endpoint"]] = s.get("SubscriptionArn", "")
        return out

    def _topic_arn(
        self, name: str, region: str, known: Remembered | None, obs: Observed | None
    ) -> str | None:
        """The ARN of the topic the operator creates, or None where it does not exist: by
        GetTopicAttributes of its ARN (remembered, or made from the account of the tables, as
        AWS makes it: arn:PARTITION:sns:REGION:ACCOUNT:NAME); ListTopics only when neither is
        known."""
        suffix = ":" + name
        arn = known.topic_arn if known else None
        if not (arn and arn.endswith(suffix) and region_of(arn) == region):
            account = obs.account_id if obs else None
            partition = obs.partition if obs else "aws"
            arn = f"arn:{partition}:sns:{region}:{account}:{name}" if account else None
        if arn:
            got = self._call(
                "sns", region, "get_topic_attributes", f"get SNS topic {arn}", TopicArn=arn
            )
            return arn if got is not None else None
        topics = self._paged("sns", region, "list_topics", "Topics", "list SNS topics")
        return next((t["TopicArn"] for t in topics if t["TopicArn"].endswith(suffix)), None)

    def _pages(self, service: str, region: str, op: str, what: str, **kw: Any) -> list[dict]:
        client = self.clients(service, region)
        try:
            if client.can_paginate(op):
                return list(client.get_paginator(op).paginate(**kw))
            return [getattr(client, op)(**kw)]
        except Exception as exc:
            if errors.is_not_found(exc):
                return []
            raise errors.classify(exc, what, region, service=service) from exc

    def _paged(self, service: str, region: str, op: str, key: str, what: str, **kw: Any) -> list:
        return [
            item
            for page in self._pages(service, region, op, what, **kw)
            for item in page.get(key, [])
        ]


def _with_tags(table: ObservedTable, tags: dict[str, str]) -> ObservedTable:
    return replace(table, tags=tags)


def _alarms_everywhere(a: DesiredAlarms, known: Remembered | None) -> bool:
    """Whether to list the resource's alarms in each of its regions, not only where they are
    wanted or the last look saw ours: no last look known, asked for, or the regions beyond the
    primary that should hold ours differ from those that did (the active region moved): a
    status that missed a region at such a move would otherwise never list it again, and the
    alarms left there would fire unseen. A settled resource reads nothing more."""
    if known is None or known.alarm_regions is None or known.alarms_everywhere:
        return True
    wanted = set(a.alarm_regions) if a.enabled else set()
    return bool((wanted ^ known.alarm_regions) - {a.region})
