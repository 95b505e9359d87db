"""Write capacity auto scaling of a PROVISIONED table and its indexes (target tracking)."""

from __future__ import annotations

from forumdb_operator.desired import (
    AUTOSCALING_POLICY,
    AUTOSCALING_TARGET_UTILIZATION,
    DesiredTable,
)
from forumdb_operator.diff.model import Action
from forumdb_operator.observed import Observed


def autoscaling_actions(t: DesiredTable, obs: Observed, region: str) -> list[Action]:
    """Write capacity auto scaling (target tracking) of the table and each index."""
    if t.write_autoscaling is None:
        return []
    low, high = t.write_autoscaling
    actions = []
    for resource_id, dimension in t.autoscaled_resources:
        key = (resource_id, dimension)
        have = obs.scalable_targets.get(key)
        if have != (low, high):
            actions.append(
                Action(
                    "autoscaling",
                    "application-autoscaling",
                    region,
                    "register_scalable_target",
                    {
                        "ServiceNamespace": "dynamodb",
                        "ResourceId": resource_id,
                        "ScalableDimension": dimension,
                        "MinCapacity": low,
                        "MaxCapacity": high,
                    },
                    f"set write auto scaling of {resource_id} in {region} to {low}-{high}"
                    + (f" (it was {have[0]}-{have[1]})" if have else ""),
                )
            )
        if key not in obs.scaling_policies:
            actions.append(
                Action(
                    "autoscaling",
                    "application-autoscaling",
                    region,
                    "put_scaling_policy",
                    {
                        "PolicyName": AUTOSCALING_POLICY,
                        "ServiceNamespace": "dynamodb",
                        "ResourceId": resource_id,
                        "ScalableDimension": dimension,
                        "PolicyType": "TargetTrackingScaling",
                        "TargetTrackingScalingPolicyConfiguration": {
                            "TargetValue": AUTOSCALING_TARGET_UTILIZATION,
                            "PredefinedMetricSpecification": {
                                "PredefinedMetricType": "DynamoDBWriteCapacityUtilization"
                            },
                        },
                    },
                    f"put the write utilisation policy on {resource_id} in {region}",
                )
            )
    return actions


def autoscaling_removal(t: DesiredTable, obs: Observed, region: str) -> list[Action]:
    """Deregister the scalable targets of a table being deleted (their policies go with them)."""
    return [
        Action(
            "autoscaling",
            "application-autoscaling",
            region,
            "deregister_scalable_target",
            {
                "ServiceNamespace": "dynamodb",
                "ResourceId": resource_id,
                "ScalableDimension": dimension,
            },
            f"remove write auto scaling of {resource_id} in {region}",
        )
        for resource_id, dimension in t.autoscaled_resources
        if (resource_id, dimension) in obs.scalable_targets
    ]
