"""Conformance: DynamoDB global tables (version 2019.11.21) in AWS's order of events.

Sources: the UpdateTable API reference and botocore's DynamoDB model, and the published probes
of the live service in the ack-api-quirks catalogue (services/dynamodb, table-replicas.md,
findings DDB-TABLE-NNN, verified 2026-10-09). Every test runs in-process and through the
server; durations are the emulator's short stand-ins, set per test with `configure`."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from harness.emulator_support import (
    CENTRAL,
    EAST,
    TABLE,
    WEST,
    add_replica,
    autoscale_writes,
    create_table,
    describe,
    error_code,
    key,
    post,
    wait_settled,
    wait_until,
)

IN_USE = "The resource which you are attempting to change is in use."


def replica_states(client, name: str = TABLE) -> list[tuple[str, str]]:
    return [
        (r["RegionName"], r["ReplicaStatus"]) for r in describe(client, name).get("Replicas", [])
    ]


def table_gone(client, name: str = TABLE) -> bool:
    try:
        client.describe_table(TableName=name)
    except ClientError as err:
        return err.response["Error"]["Code"] == "ResourceNotFoundException"
    return False


def missing(call) -> str:
    """The error code of a call that must fail."""
    with pytest.raises(ClientError) as err:
        call()
    return error_code(err)


def test_create_response_shows_no_replica_entry_yet(ext):
    """The Create response has TableStatus UPDATING, GlobalTableVersion 2019.11.21 and no entry
    for the new replica; the entry appears (CREATING) shortly after, and only then is the
    replica region's table describable. Source: DDB-TABLE-226 (Replicas=[] in the response,
    entry after ~6 s, replica region ResourceNotFound for ~10 s)."""
    ext.control.configure(replica_entry_delay_seconds=3)
    ext.control.set_replication(replica_activation_seconds=30)
    east, west = ext.client("dynamodb", EAST), ext.client("dynamodb", WEST)
    create_table(east)

    created = add_replica(east, WEST)

    assert created["TableStatus"] == "UPDATING"
    assert created["GlobalTableVersion"] == "2019.11.21"
    assert created.get("Replicas", []) == []
    assert missing(lambda: west.describe_table(TableName=TABLE)) == "ResourceNotFoundException"
    wait_until(lambda: replica_states(east) == [(WEST, "CREATING")], "entry CREATING")
    assert describe(west)["TableStatus"] == "CREATING"


def test_table_goes_active_while_the_replica_is_still_creating(ext):
    """The table shows UPDATING, then ACTIVE again while its new replica is still CREATING, so
    TableStatus ACTIVE does not mean the replica is ready. Sources: DDB-TABLE-298 (base
    ACTIVE[us-east-1 CREATING] for 175 s), DDB-TABLE-306 (ACTIVE -> UPDATING -> ACTIVE during a
    one-item add)."""
    ext.control.configure(replica_entry_delay_seconds=0, table_updating_seconds=0.5)
    ext.control.set_replication(replica_activation_seconds=30)
    east = ext.client("dynamodb", EAST)
    create_table(east)
    add_replica(east, WEST)

    wait_until(lambda: describe(east)["TableStatus"] == "ACTIVE", "table ACTIVE")
    assert replica_states(east) == [(WEST, "CREATING")]


def test_any_other_update_table_while_a_replica_is_in_flight_is_resource_in_use(ext):
    """While a replica is CREATING, any other UpdateTable on the table -- a second replica,
    deletion protection, billing -- is ResourceInUseException ("The resource which you are
    attempting to change is in use."), a stream disable is ValidationException, and tags and
    PITR are admitted. Source: DDB-TABLE-227."""
    ext.control.configure(
        replica_entry_delay_seconds=0, table_updating_seconds=0, pitr_unavailable_seconds=0
    )
    ext.control.set_replication(replica_activation_seconds=30)
    east = ext.client("dynamodb", EAST)
    arn = create_table(east)["TableArn"]
    add_replica(east, WEST)
    assert describe(east)["TableStatus"] == "ACTIVE"  # and yet:

    for change in (
        lambda: add_replica(east, CENTRAL),
        lambda: east.update_table(TableName=TABLE, DeletionProtectionEnabled=True),
        lambda: east.update_table(
            TableName=TABLE,
            BillingMode="PROVISIONED",
            ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
        ),
    ):
        with pytest.raises(ClientError) as err:
            change()
        assert error_code(err) == "ResourceInUseException"
        assert err.value.response["Error"]["Message"] == IN_USE

    with pytest.raises(ClientError) as err:
        east.update_table(TableName=TABLE, StreamSpecification={"StreamEnabled": False})
    assert error_code(err) == "ValidationException"
    assert "Disabling Stream is not allowed for a Global Table replica" in str(err.value)

    east.tag_resource(ResourceArn=arn, Tags=[{"Key": "app", "Value": "forum"}])
    east.update_continuous_backups(
        TableName=TABLE, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )


def test_a_creating_replica_answers_only_describe_table(ext):
    """In the replica's region, a CREATING replica answers DescribeTable only: item calls and
    tags are ResourceNotFoundException ("Requested resource not found: Table: <name> not
    found"), continuous backups TableNotFoundException, DeleteTable ResourceInUseException, a
    replica update from there ValidationException. Writes on the source still reach it.
    Source: DDB-TABLE-298."""
    ext.control.configure(replica_entry_delay_seconds=0)
    ext.control.set_replication(replica_activation_seconds=30)
    east, west = ext.client("dynamodb", EAST), ext.client("dynamodb", WEST)
    create_table(east)
    add_replica(east, WEST)

    assert describe(west)["TableStatus"] == "CREATING"
    arn = describe(west)["TableArn"]
    assert missing(lambda: west.get_item(TableName=TABLE, Key=key(1))) == (
        "ResourceNotFoundException"
    )
    assert missing(lambda: west.put_item(TableName=TABLE, Item=post(1))) == (
        "ResourceNotFoundException"
    )
    assert missing(lambda: west.list_tags_of_resource(ResourceArn=arn)) == (
        "ResourceNotFoundException"
    )
    assert missing(lambda: west.describe_continuous_backups(TableName=TABLE)) == (
        "TableNotFoundException"
    )
    assert missing(lambda: west.delete_table(TableName=TABLE)) == "ResourceInUseException"
    with pytest.raises(ClientError) as err:
        add_replica(west, CENTRAL)
    assert "is not allowed while the replica is being added" in str(err.value)
    east.put_item(TableName=TABLE, Item=post(1))  # the source takes writes meanwhile


def test_replica_update_with_only_a_region_name_is_a_validation_error(ext):
    """ReplicaUpdates=[{Update: {RegionName}}] with no action field: ValidationException "There
    are no actions specified in the Replica Update Action of the request." Source:
    DDB-TABLE-223 (update_region_only_no_change)."""
    ext.control.configure(replica_entry_delay_seconds=0)
    ext.control.set_replication(replica_activation_seconds=0)
    east = ext.client("dynamodb", EAST)
    create_table(east)
    add_replica(east, WEST)
    wait_settled(east)
    with pytest.raises(ClientError) as err:
        east.update_table(TableName=TABLE, ReplicaUpdates=[{"Update": {"RegionName": WEST}}])
    assert error_code(err) == "ValidationException"
    assert "There are no actions specified in the Replica Update Action" in str(err.value)


def test_identical_creates_count_once_and_mixed_actions_are_refused(ext):
    """Two identical Creates for one region in one request are de-duplicated; a Create and a
    Delete in one request are refused ("Update table operation with more than one type of
    replica actions not allowed."). Sources: DDB-TABLE-265, DDB-TABLE-223
    (duplicate_create_same_region_twice -> 200, create_and_delete_same_element)."""
    ext.control.configure(replica_entry_delay_seconds=0)
    ext.control.set_replication(replica_activation_seconds=0)
    east = ext.client("dynamodb", EAST)
    create_table(east)
    east.update_table(
        TableName=TABLE,
        ReplicaUpdates=[{"Create": {"RegionName": WEST}}, {"Create": {"RegionName": WEST}}],
    )
    assert [r for r, _ in replica_states(east)] == [WEST]
    with pytest.raises(ClientError) as err:
        east.update_table(
            TableName=TABLE,
            ReplicaUpdates=[
                {"Create": {"RegionName": CENTRAL}},
                {"Delete": {"RegionName": WEST}},
            ],
        )
    assert "more than one type of replica actions not allowed" in str(err.value)


def test_a_member_or_same_name_table_already_existed_as_tables(ext):
    """A Create for a region that is already a member, or that has a table of that name, is
    ValidationException "Failed to create a the new replica of table with name: '<name>' because
    one or more replicas already existed as tables." Sources: DDB-TABLE-225, DDB-TABLE-203."""
    ext.control.configure(replica_entry_delay_seconds=0)
    ext.control.set_replication(replica_activation_seconds=0)
    east, central = ext.client("dynamodb", EAST), ext.client("dynamodb", CENTRAL)
    create_table(east)
    add_replica(east, WEST)
    wait_settled(east)
    create_table(central)
    for region in (WEST, CENTRAL):
        with pytest.raises(ClientError) as err:
            add_replica(east, region)
        assert error_code(err) == "ValidationException"
        assert "because one or more replicas already existed as tables" in str(err.value)


def test_a_region_just_removed_cannot_be_added_again_at_once(ext):
    """After a replica Delete, the table is UPDATING, then ACTIVE while the replica is
    DELETING; once the entry is gone the replica's table still exists (DELETING) in its region
    for a while, and a Create for that region is "already existed as tables" until it is gone.
    Sources: DDB-TABLE-228 (base ACTIVE with the replica DELETING; re-add rejected until the
    region answers ResourceNotFound), DDB-TABLE-308."""
    ext.control.configure(
        replica_entry_delay_seconds=0, table_updating_seconds=0, replica_region_linger_seconds=3
    )
    ext.control.set_replication(replica_activation_seconds=0)
    east, west = ext.client("dynamodb", EAST), ext.client("dynamodb", WEST)
    create_table(east)
    add_replica(east, WEST)
    wait_settled(east)
    ext.control.set_replication(replica_activation_seconds=3)

    east.update_table(TableName=TABLE, ReplicaUpdates=[{"Delete": {"RegionName": WEST}}])
    assert describe(east)["TableStatus"] == "ACTIVE"
    assert replica_states(east) == [(WEST, "DELETING")]
    wait_until(lambda: "Replicas" not in describe(east), "replica entry gone")

    assert describe(west)["TableStatus"] == "DELETING"
    with pytest.raises(ClientError) as err:
        add_replica(east, WEST)
    assert "already existed as tables" in str(err.value)
    wait_until(lambda: table_gone(west), "replica table gone from its region")
    add_replica(east, WEST)
    wait_settled(east)
    assert replica_states(east) == [(WEST, "ACTIVE")]


def test_the_source_region_cannot_be_removed_while_its_replica_is_a_member(ext):
    """A region whose endpoint created a replica in the last 24 h cannot be removed -- neither
    DeleteTable there nor ReplicaUpdates Delete of it -- while that replica is a member:
    ValidationException "Replica cannot be deleted because it has acted as a source region for
    new replica(s) being added to the table in the last 24 hours." Removing the replica first
    ("leaf first") works. Sources: DDB-TABLE-266, DDB-TABLE-267, DDB-TABLE-298, go-to-k/cdkd
    #1442; DynamoDB developer guide (global tables: "You must wait 24 hours ... to delete a
    source table")."""
    ext.control.configure(replica_entry_delay_seconds=0)
    ext.control.set_replication(replica_activation_seconds=0)
    east, west = ext.client("dynamodb", EAST), ext.client("dynamodb", WEST)
    create_table(east)
    add_replica(east, WEST)
    wait_settled(east)

    for removal in (
        lambda: east.delete_table(TableName=TABLE),
        lambda: west.update_table(
            TableName=TABLE, ReplicaUpdates=[{"Delete": {"RegionName": EAST}}]
        ),
    ):
        with pytest.raises(ClientError) as err:
            removal()
        assert error_code(err) == "ValidationException"
        assert "acted as a source region" in str(err.value)

    east.update_table(TableName=TABLE, ReplicaUpdates=[{"Delete": {"RegionName": WEST}}])
    wait_until(lambda: "Replicas" not in describe(east), "replica removed")
    east.delete_table(TableName=TABLE)


def test_the_source_hold_is_a_setting(ext):
    """replication_source_hold_seconds is AWS's 24 h by default; a test may shorten it."""
    ext.control.configure(replica_entry_delay_seconds=0, replication_source_hold_seconds=0)
    ext.control.set_replication(replica_activation_seconds=0)
    east = ext.client("dynamodb", EAST)
    create_table(east)
    add_replica(east, WEST)
    wait_settled(east)
    east.delete_table(TableName=TABLE)
    assert ext.control.rules()["replication_source_hold_seconds"] == 0


def test_streams_are_no_prerequisite(ext):
    """ReplicaUpdates.Create on a table without a stream turns on NEW_AND_OLD_IMAGES; a stream
    of another view type is accepted and left as it is. Sources: DDB-TABLE-221, DDB-TABLE-305
    (KEYS_ONLY/NEW_IMAGE/OLD_IMAGE replicas ACTIVE in 14-18 s, stream unchanged)."""
    ext.control.configure(replica_entry_delay_seconds=0)
    east = ext.client("dynamodb", EAST)
    create_table(east)
    created = add_replica(east, WEST)
    assert created["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    create_table(east, "keys-only")
    keys_only = {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
    east.update_table(TableName="keys-only", StreamSpecification=keys_only)
    assert add_replica(east, CENTRAL, "keys-only")["StreamSpecification"] == keys_only


def test_customer_managed_key_rules(ext):
    """On a table with a customer managed key, every replica needs a key of its own region
    ("KMSMasterKeyId must be specified for each replica"), not the AWS managed key ("All
    replica keys must either be Customer Managed CMK or AWS Managed CMK."), not another region's
    ("KMS validation error for region ...: Invalid arn ..."), not a disabled one ("...
    replica server-side encryption status is in UPDATING state..."); the replica entry shows
    the key's full ARN; ReplicaUpdates Update{KMSMasterKeyId} is refused whatever the key.
    Sources: DDB-TABLE-313, DDB-TABLE-312, DDB-TABLE-309, DDB-TABLE-295."""
    ext.control.configure(replica_entry_delay_seconds=0)
    ext.control.set_replication(replica_activation_seconds=0)
    east = ext.client("dynamodb", EAST)
    kms_west = ext.client("kms", WEST)
    east_key = ext.client("kms", EAST).create_key()["KeyMetadata"]["Arn"]
    west_key = kms_west.create_key()["KeyMetadata"]
    disabled = kms_west.create_key()["KeyMetadata"]["KeyId"]
    kms_west.disable_key(KeyId=disabled)
    create_table(east, kms_key=east_key)

    def refusal(**spec) -> str:
        with pytest.raises(ClientError) as err:
            add_replica(east, WEST, **spec)
        assert error_code(err) == "ValidationException"
        return err.value.response["Error"]["Message"]

    assert "KMSMasterKeyId must be specified for each replica" in refusal()
    assert "Customer Managed CMK or AWS Managed CMK" in refusal(KMSMasterKeyId="alias/aws/dynamodb")
    assert f"KMS validation error for region {WEST}" in refusal(KMSMasterKeyId=east_key)
    assert "encryption status is in UPDATING state" in refusal(KMSMasterKeyId=disabled)

    add_replica(east, WEST, KMSMasterKeyId=west_key["KeyId"])  # a bare key id
    assert wait_settled(east)["Replicas"][0]["KMSMasterKeyId"] == west_key["Arn"]
    with pytest.raises(ClientError) as err:
        east.update_table(
            TableName=TABLE,
            ReplicaUpdates=[{"Update": {"RegionName": WEST, "KMSMasterKeyId": west_key["Arn"]}}],
        )
    assert error_code(err) == "ValidationException"


def test_a_table_on_the_aws_owned_key_takes_no_replica_key(ext):
    """A table encrypted with the AWS owned key rejects any per-replica KMSMasterKeyId.
    Source: DDB-TABLE-309 notes, DDB-TABLE-295."""
    ext.control.configure(replica_entry_delay_seconds=0)
    east = ext.client("dynamodb", EAST)
    west_key = ext.client("kms", WEST).create_key()["KeyMetadata"]["Arn"]
    create_table(east)
    with pytest.raises(ClientError) as err:
        add_replica(east, WEST, KMSMasterKeyId=west_key)
    assert "KMSMasterKeyId must be specified for each replica" in str(err.value)


def test_provisioned_write_capacity_needs_a_target_and_a_policy_everywhere(ext):
    """A PROVISIONED table gets a replica only with write auto scaling -- a scalable target AND
    a scaling policy -- on the table and on every GSI: otherwise ValidationException "Table
    write capacity should either be Pay-Per-Request or AutoScaled." Sources: DDB-TABLE-188,
    DDB-TABLE-249, hashicorp/terraform-provider-aws#13097."""
    ext.control.configure(replica_entry_delay_seconds=0)
    east = ext.client("dynamodb", EAST)
    autoscaling = ext.client("application-autoscaling", EAST)
    create_table(east, billing_mode="PROVISIONED", read_capacity=5, write_capacity=5)
    autoscaling.register_scalable_target(  # a bare target is not enough
        ServiceNamespace="dynamodb",
        ResourceId=f"table/{TABLE}",
        ScalableDimension="dynamodb:table:WriteCapacityUnits",
        MinCapacity=5,
        MaxCapacity=50,
    )
    with pytest.raises(ClientError) as err:
        add_replica(east, WEST)
    assert "write capacity should either be Pay-Per-Request or AutoScaled" in str(err.value)
    autoscale_writes(autoscaling, indexes=("ThreadIndex",))  # one GSI left without
    with pytest.raises(ClientError) as err:
        add_replica(east, WEST)
    assert "UserIndex" in str(err.value)
    autoscale_writes(autoscaling)
    assert add_replica(east, WEST)["TableStatus"] == "UPDATING"


def test_durations_are_configured_in_seconds_through_the_control(ext):
    """The timings are seconds, set through the control API (in-process and over HTTP); bad
    values are refused."""
    rules = ext.control.configure(replica_entry_delay_seconds=0.25, table_updating_seconds=3)
    assert rules["replica_entry_delay_seconds"] == 0.25
    assert rules["table_updating_seconds"] == 3
    assert (
        ext.control.set_replication(replica_activation_seconds=2)["replica_activation_seconds"] == 2
    )
    with pytest.raises(Exception, match="replica_entry_delay_seconds"):
        ext.control.configure(replica_entry_delay_seconds=-1)
    with pytest.raises(Exception, match="no_such_rule"):
        ext.control.configure(no_such_rule=True)


def test_a_protected_replica_cannot_be_removed_through_replica_updates(ext):
    """A replica whose own table has deletion protection refuses ReplicaUpdates Delete (and
    DeleteTable in its region); deletion protection is per replica. Source: DDB-TABLE-297
    ("a replica with its own DeletionProtection refuses both ReplicaUpdates.Delete and a
    regional DeleteTable")."""
    ext.control.configure(replica_entry_delay_seconds=0, replication_source_hold_seconds=0)
    ext.control.set_replication(replica_activation_seconds=0)
    east, west = ext.client("dynamodb", EAST), ext.client("dynamodb", WEST)
    create_table(east)
    add_replica(east, WEST)
    wait_settled(east)
    west.update_table(TableName=TABLE, DeletionProtectionEnabled=True)
    wait_settled(east)

    with pytest.raises(ClientError) as err:
        east.update_table(TableName=TABLE, ReplicaUpdates=[{"Delete": {"RegionName": WEST}}])
    assert error_code(err) == "ValidationException"
    assert "protected against deletion" in str(err.value)
    assert missing(lambda: west.delete_table(TableName=TABLE)) == "ValidationException"
    assert replica_states(east) == [(WEST, "ACTIVE")]
