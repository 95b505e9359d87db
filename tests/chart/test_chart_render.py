"""`helm template` over a matrix of values: every object valid for Kubernetes (strict schemas)
or for its CRD, and hardened; then what each storage mode and option renders."""

from __future__ import annotations

import json
from typing import Any

import pytest
from chartkit import (
    EXAMPLES_DIR,
    NAMESPACE,
    SERVICE_NAMES,
    by_kind,
    containers,
    env_of,
    kubernetes_errors,
    mounts_of,
    named,
    pod_specs,
    volumes_of,
)

from forumdb.legacy import normalize_document

DYNAMODB = {"database": {"mode": "dynamodb", "forumDatabase": "forum"}}
OPERATOR_ALL = {
    **DYNAMODB,
    "operator": {"enabled": True},
    "forumDatabase": {"create": True},
}

# name -> values; each case is rendered, validated and checked for hardening.
MATRIX: dict[str, dict[str, Any]] = {
    "defaults (json, PVC)": {},
    "json demo (emptyDir, seeded)": {
        "persistence": {"enabled": False},
        "database": {"seed": {"enabled": True}},
    },
    "json, seed from an existing ConfigMap, ingress": {
        "database": {"seed": {"enabled": True, "existingConfigMap": "my-forum-data"}},
        "persistence": {"storageClass": "fast", "annotations": {"a": "b"}},
        "ingress": {"enabled": True, "className": "nginx", "hosts": ["forum.example.com", ""]},
    },
    "dynamodb, ConfigMap of a ForumDatabase, no operator": DYNAMODB,
    "dynamodb, plain env (no ForumDatabase)": {
        "database": {"mode": "dynamodb", "forumDatabase": "", "tablePrefix": "shop-"},
        "aws": {"region": "eu-west-1", "endpointUrl": "http://moto:5000"},
    },
    "dynamodb, operator (all namespaces), ForumDatabase, ingress with TLS": {
        **OPERATOR_ALL,
        "ingress": {
            "enabled": True,
            "hosts": ["forum.example.com"],
            "tls": [{"secretName": "tls", "hosts": ["forum.example.com"]}],
        },
        "operator": {"enabled": True, "metrics": {"service": {"enabled": True}}},
    },
    "dynamodb, operator watching two namespaces": {
        **OPERATOR_ALL,
        "operator": {"enabled": True, "watchNamespaces": [NAMESPACE, "team-b"]},
    },
    "dynamodb, operator standalone, existing Secret, pull secrets, digest": {
        **OPERATOR_ALL,
        "operator": {"enabled": True, "peering": {"enabled": False}},
        "aws": {"existingSecret": "aws-keys", "sessionTokenKey": "token"},
        "image": {"pullSecrets": ["regcred"], "digest": "sha256:" + "a" * 64},
    },
    "dynamodb, 3 replicas, PDB, NetworkPolicy (restricted), spread": {
        **DYNAMODB,
        "services": {
            "replicaCount": 3,
            "pdb": {"create": True},
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": "kubernetes.io/hostname",
                    "whenUnsatisfiable": "DoNotSchedule",
                }
            ],
            "posts": {"replicaCount": 5, "resources": {"limits": {"memory": "1Gi"}}},
        },
        "networkPolicy": {
            "enabled": True,
            "allowExternal": False,
            "ingressNSMatchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"},
            "ingressNSPodMatchLabels": {"app.kubernetes.io/name": "ingress-nginx"},
            "allowExternalEgress": False,
            "extraEgress": [{"ports": [{"port": 5000, "protocol": "TCP"}]}],
        },
    },
    "dynamodb, operator with the admission webhook and allowed regions": {
        **OPERATOR_ALL,
        "operator": {
            "enabled": True,
            "allowedRegions": ["us-east-1", "us-west-2"],
            "clusterId": "prod-eu",
            "webhook": {"enabled": True, "certSecret": "forum-webhook-tls"},
        },
    },
    "PDB by minAvailable, NetworkPolicy open": {
        **DYNAMODB,
        "services": {
            "replicaCount": 2,
            "pdb": {"create": True, "minAvailable": "50%", "maxUnavailable": ""},
        },
        "networkPolicy": {"enabled": True},
    },
    "only the posts service": {
        "services": {"users": {"enabled": False}, "threads": {"enabled": False}},
        "ingress": {"enabled": True},
    },
}

EXAMPLE_FILES = {
    "examples/values-json.yaml": ["values-json.yaml"],
    "examples/values-dynamodb.yaml + irsa-values.yaml": [
        "values-dynamodb.yaml",
        "irsa-values.yaml",
    ],
}


@pytest.fixture(params=list(MATRIX), ids=list(MATRIX))
def rendered(request: pytest.FixtureRequest, render) -> list[dict[str, Any]]:
    return render(MATRIX[request.param])


@pytest.fixture(params=list(EXAMPLE_FILES), ids=list(EXAMPLE_FILES))
def rendered_example(request: pytest.FixtureRequest, render) -> list[dict[str, Any]]:
    # As shipped: the examples carry their own auth settings.
    files = (EXAMPLES_DIR / f for f in EXAMPLE_FILES[request.param])
    return render(None, *files, auth=False)


def _check_valid(objects: list[dict[str, Any]]) -> None:
    assert objects, "nothing rendered"
    errors = [e for obj in objects for e in kubernetes_errors(obj)]
    assert not errors, "\n".join(errors)


def _check_hardened(objects: list[dict[str, Any]]) -> None:
    problems = []
    for owner, spec in pod_specs(objects):
        pod_sc = spec.get("securityContext", {})
        tmp_volumes = {n for n, v in volumes_of(spec).items() if "emptyDir" in v}
        for c in containers(spec):
            where = f"{owner} container {c['name']}"
            sc = c.get("securityContext", {})
            seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {})).get("type")
            checks = {
                "runAsNonRoot": sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True,
                "non-zero runAsUser": sc.get("runAsUser", pod_sc.get("runAsUser", 0)) > 0,
                "readOnlyRootFilesystem": sc.get("readOnlyRootFilesystem") is True,
                "allowPrivilegeEscalation false": sc.get("allowPrivilegeEscalation") is False,
                "capabilities drop ALL": sc.get("capabilities", {}).get("drop") == ["ALL"],
                "seccomp RuntimeDefault": seccomp == "RuntimeDefault",
                "resource requests": bool(c.get("resources", {}).get("requests")),
                "resource limits": bool(c.get("resources", {}).get("limits")),
            }
            problems += [f"{where}: no {name}" for name, ok in checks.items() if not ok]
            # A read-only root needs somewhere to write temporary files, except for the
            # one-shot helpers that write nowhere but their data volume.
            if c["name"] not in ("seed", "readyz") and mounts_of(c).get("/tmp") not in tmp_volumes:
                problems.append(f"{where}: no emptyDir at /tmp")
    assert not problems, "\n".join(problems)


def test_every_object_is_valid_kubernetes_or_valid_for_its_crd(rendered):
    _check_valid(rendered)


def test_every_container_is_hardened(rendered):
    _check_hardened(rendered)


def test_services_select_their_own_pods_only(rendered):
    deployments = {d["metadata"]["name"]: d for d in by_kind(rendered, "Deployment")}
    for svc in by_kind(rendered, "Service"):
        selector = svc["spec"]["selector"]
        matching = [
            name
            for name, d in deployments.items()
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        # The operator's metrics and webhook Services select the operator's pod.
        workload = svc["metadata"]["name"].removesuffix("-metrics").removesuffix("-webhook")
        assert matching == [workload], svc["metadata"]
    for d in deployments.values():
        labels = d["spec"]["template"]["metadata"]["labels"]
        assert d["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_the_examples_render_valid_and_hardened(rendered_example):
    _check_valid(rendered_example)
    _check_hardened(rendered_example)


def test_service_containers_run_their_service_with_probes(render):
    objects = render({})
    for name in SERVICE_NAMES:
        c = named(objects, "Deployment", f"forum-{name}")["spec"]["template"]["spec"]
        (main,) = c["containers"]
        assert main["command"] == ["forum-service"]
        assert main["args"][:1] == [name]
        assert main["args"][main["args"].index("--port") + 1] == "8080"
        assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert main["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]


def test_json_mode_gives_each_service_its_own_claim_at_data_dir(render):
    objects = render({})
    claims = {c["metadata"]["name"]: c for c in by_kind(objects, "PersistentVolumeClaim")}
    assert set(claims) == {f"forum-{n}-data" for n in SERVICE_NAMES}
    for name in SERVICE_NAMES:
        deployment = named(objects, "Deployment", f"forum-{name}")
        # A ReadWriteOnce claim cannot be attached to the old and the new pod at once.
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}
        spec = deployment["spec"]["template"]["spec"]
        (main,) = spec["containers"]
        env = env_of(main)
        assert env["STORAGE_MODE"] == "json"
        assert env["DATA_DIR"] == "/data"
        # The pod sees only its own folder: a post could never find its thread or user.
        assert env["CHECK_REFERENCES"] == "false"
        assert "FORUMDB_CONFIG_DIR" not in env
        volume = volumes_of(spec)[mounts_of(main)[f"/data/{name}"]]
        assert volume["persistentVolumeClaim"]["claimName"] == f"forum-{name}-data"
        annotations = claims[f"forum-{name}-data"]["metadata"]["annotations"]
        assert annotations["helm.sh/resource-policy"] == "keep"
    assert not by_kind(objects, "ConfigMap")


def test_json_demo_uses_emptydir_and_seeds_the_sample_without_overwriting(render):
    objects = render({"persistence": {"enabled": False}, "database": {"seed": {"enabled": True}}})
    assert not by_kind(objects, "PersistentVolumeClaim")
    seed_map = named(objects, "ConfigMap", "forum-seed")
    for name in SERVICE_NAMES:
        # The seed is the classic sample format the services read.
        records = list(normalize_document(name, json.loads(seed_map["data"][f"{name}.json"])))
        assert records, f"empty seed for {name}"
        spec = named(objects, "Deployment", f"forum-{name}")["spec"]["template"]["spec"]
        assert volumes_of(spec)["data"] == {"name": "data", "emptyDir": {}}
        (init,) = spec["initContainers"]
        script = init["command"][-1]
        assert f'folder="$DATA_DIR/{name}"' in script
        assert mounts_of(init) == {f"/data/{name}": "data", "/seed": "seed"}
        seed_volume = volumes_of(spec)["seed"]["configMap"]
        assert seed_volume["name"] == "forum-seed"
        assert seed_volume["items"] == [{"key": f"{name}.json", "path": f"{name}.json"}]


def test_seed_from_an_existing_configmap_renders_none_of_its_own(render):
    objects = render({"database": {"seed": {"enabled": True, "existingConfigMap": "mine"}}})
    assert not by_kind(objects, "ConfigMap")
    spec = named(objects, "Deployment", "forum-users")["spec"]["template"]["spec"]
    assert volumes_of(spec)["seed"]["configMap"]["name"] == "mine"


def test_dynamodb_mode_mounts_the_operators_configmap_as_files(render):
    objects = render(DYNAMODB)
    assert not by_kind(objects, "PersistentVolumeClaim")
    # The ConfigMap is the operator's: the chart must not render (and so fight over) it.
    assert not by_kind(objects, "ConfigMap")
    for name in SERVICE_NAMES:
        deployment = named(objects, "Deployment", f"forum-{name}")
        assert "strategy" not in deployment["spec"]  # rolling updates
        spec = deployment["spec"]["template"]["spec"]
        (main,) = spec["containers"]
        env = env_of(main)
        assert env["STORAGE_MODE"] == "dynamodb"
        assert env["FORUMDB_CONFIG_DIR"] == "/etc/forumdb"
        assert "DATA_DIR" not in env
        assert "CHECK_REFERENCES" not in env  # one set of tables: references are checked
        volume = volumes_of(spec)[mounts_of(main)["/etc/forumdb"]]
        # Mounted as a volume (not envFrom), so kubelet's in-place updates reach the pod;
        # optional, so the pod starts before the operator has written it (/readyz says why
        # it is not ready: tests/unit/api/test_config_reload.py).
        assert volume["configMap"] == {"name": "forumdb-forum", "optional": True}
        assert "envFrom" not in main


def test_dynamodb_mode_without_forumdatabase_configures_from_values(render):
    objects = render(
        {
            "database": {"mode": "dynamodb", "forumDatabase": "", "tablePrefix": "shop-"},
            "aws": {"region": "eu-west-1", "endpointUrl": "http://moto:5000"},
        }
    )
    (main,) = named(objects, "Deployment", "forum-posts")["spec"]["template"]["spec"]["containers"]
    env = env_of(main)
    assert env["TABLE_PREFIX"] == "shop-"
    assert env["AWS_REGION"] == "eu-west-1"
    assert env["AWS_ENDPOINT_URL"] == "http://moto:5000"
    assert "FORUMDB_CONFIG_DIR" not in env


def test_static_aws_keys_come_only_from_the_existing_secret(render):
    objects = render({**OPERATOR_ALL, "aws": {"existingSecret": "aws-keys"}})
    for owner, spec in pod_specs(objects):
        if owner.startswith("Pod/"):
            continue
        env = env_of(containers(spec)[-1])
        assert env["AWS_ACCESS_KEY_ID"] == {
            "secretKeyRef": {"name": "aws-keys", "key": "AWS_ACCESS_KEY_ID"}
        }, owner
        assert env["AWS_SECRET_ACCESS_KEY"] == {
            "secretKeyRef": {"name": "aws-keys", "key": "AWS_SECRET_ACCESS_KEY"}
        }, owner
    assert not by_kind(objects, "Secret")


def test_irsa_example_annotates_both_serviceaccounts(render):
    objects = render(
        None,
        EXAMPLES_DIR / "values-dynamodb.yaml",
        EXAMPLES_DIR / "irsa-values.yaml",
        auth=False,
    )
    accounts = {sa["metadata"]["name"]: sa for sa in by_kind(objects, "ServiceAccount")}
    assert set(accounts) == {"forum-services", "forum-operator"}
    roles = {
        name: sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
        for name, sa in accounts.items()
    }
    assert roles["forum-services"].endswith(":role/forumdb-services")
    assert roles["forum-operator"].endswith(":role/forumdb-operator")
    # The services never call the Kubernetes API: no token in their pods.
    assert accounts["forum-services"]["automountServiceAccountToken"] is False
    for name in SERVICE_NAMES:
        spec = named(objects, "Deployment", f"forum-{name}")["spec"]["template"]["spec"]
        assert spec["serviceAccountName"] == "forum-services"
    operator = named(objects, "Deployment", "forum-operator")["spec"]["template"]["spec"]
    assert operator["serviceAccountName"] == "forum-operator"


def test_ingress_routes_each_api_prefix_to_its_service(render):
    objects = render({"ingress": {"enabled": True, "className": "nginx", "hosts": ["f.example"]}})
    (ingress,) = by_kind(objects, "Ingress")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "f.example"
    routes = {
        p["path"]: (p["pathType"], p["backend"]["service"]["name"], p["backend"]["service"]["port"])
        for p in rule["http"]["paths"]
    }
    assert routes == {
        f"/api/{n}": ("Prefix", f"forum-{n}", {"name": "http"}) for n in SERVICE_NAMES
    }


def test_ingress_is_off_by_default(render):
    assert not by_kind(render({}), "Ingress")


def test_pdb_and_networkpolicy_select_each_services_pods(render):
    values = MATRIX["dynamodb, 3 replicas, PDB, NetworkPolicy (restricted), spread"]
    objects = render(values)
    for name in SERVICE_NAMES:
        labels = named(objects, "Deployment", f"forum-{name}")["spec"]["template"]["metadata"][
            "labels"
        ]
        pdb = named(objects, "PodDisruptionBudget", f"forum-{name}")
        assert pdb["apiVersion"] == "policy/v1"
        assert pdb["spec"]["maxUnavailable"] == 1
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
        policy = named(objects, "NetworkPolicy", f"forum-{name}")
        assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
        (allowed,) = policy["spec"]["ingress"]
        assert allowed["ports"] == [{"port": 8080, "protocol": "TCP"}]
        sources = allowed["from"]
        assert sources[0]["podSelector"]["matchLabels"] == {
            "app.kubernetes.io/name": "forum",
            "app.kubernetes.io/instance": "forum",
        }
        assert sources[1]["namespaceSelector"]["matchLabels"] == {
            "kubernetes.io/metadata.name": "ingress-nginx"
        }
        egress_ports = [p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]]
        assert sorted(egress_ports) == [53, 53, 443, 5000]
    spread = named(objects, "Deployment", "forum-users")["spec"]["template"]["spec"][
        "topologySpreadConstraints"
    ]
    assert spread[0]["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == "users"
    posts = named(objects, "Deployment", "forum-posts")
    assert posts["spec"]["replicas"] == 5
    # A per-service override merges over the shared resources.
    assert posts["spec"]["template"]["spec"]["containers"][0]["resources"] == {
        "requests": {"cpu": "50m", "memory": "128Mi"},
        "limits": {"cpu": "500m", "memory": "1Gi"},
    }
    assert named(objects, "Deployment", "forum-users")["spec"]["replicas"] == 3


def test_helm_test_pod_calls_each_services_readyz(render):
    objects = render({"services": {"threads": {"enabled": False}}})
    (pod,) = by_kind(objects, "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (c,) = pod["spec"]["containers"]
    assert c["args"] == ["http://forum-users:80/readyz", "http://forum-posts:80/readyz"]
    assert pod["spec"]["restartPolicy"] == "Never"


def test_forumdatabase_from_values_is_valid_for_the_crd(render):
    objects = render(OPERATOR_ALL)
    (fdb,) = by_kind(objects, "ForumDatabase")
    assert fdb["metadata"]["name"] == "forum"
    assert fdb["metadata"]["namespace"] == NAMESPACE
    assert not kubernetes_errors(fdb)


def test_crd_validation_catches_a_bad_forumdatabase_spec(render):
    # The check above must be able to fail: a spec the CRD refuses is reported. (helm itself
    # refuses such values now, by values.schema.json: the rendered object is spoilt instead.)
    objects = render({**OPERATOR_ALL, "forumDatabase": {"create": True}})
    (fdb,) = by_kind(objects, "ForumDatabase")
    fdb["spec"]["primaryRegion"] = "mars"
    errors = kubernetes_errors(fdb)
    assert errors
    assert "spec/primaryRegion" in errors[0]


def test_kubernetes_validation_catches_an_invalid_object():
    bad = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"replicas": "two", "selector": {}, "template": {}},
    }
    assert kubernetes_errors(bad)


def _rules(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        r for kind in ("ClusterRole", "Role") for o in by_kind(objects, kind) for r in o["rules"]
    ]


def test_operator_rbac_has_no_wildcards_and_no_cluster_admin(rendered):
    for rule in _rules(rendered):
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field], rule
    for binding in by_kind(rendered, "ClusterRoleBinding") + by_kind(rendered, "RoleBinding"):
        assert binding["roleRef"]["name"] not in ("cluster-admin", "admin", "edit")


def _grants(objects: list[dict[str, Any]], kind: str) -> dict[str, set[str]]:
    grants: dict[str, set[str]] = {}
    for obj in by_kind(objects, kind):
        for rule in obj["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    key = f"{resource}.{group}" if group else resource
                    grants.setdefault(key, set()).update(rule["verbs"])
    return grants


NAMESPACED_GRANTS = {
    "forumdatabases.forumdb.io": {"get", "list", "watch", "patch", "update"},
    "forumdatabases/status.forumdb.io": {"get", "patch", "update"},
    "forumdatabases/finalizers.forumdb.io": {"update"},
    "configmaps": {"get", "list", "watch", "create", "patch", "update", "delete"},
    "events": {"create", "patch"},
}
CRD_READ = {"customresourcedefinitions.apiextensions.k8s.io": {"get", "list", "watch"}}


def test_operator_rbac_watching_all_namespaces_is_exactly_this(render):
    objects = render(OPERATOR_ALL)
    assert not by_kind(objects, "Role")
    assert _grants(objects, "ClusterRole") == {
        **CRD_READ,
        **NAMESPACED_GRANTS,
        "clusterkopfpeerings.kopf.dev": {"get", "list", "watch", "patch"},
    }
    (peering,) = by_kind(objects, "ClusterKopfPeering")
    assert peering["metadata"]["name"] == "forumdb"


def test_operator_rbac_watching_some_namespaces_is_a_role_in_each(render):
    objects = render({**OPERATOR_ALL, "operator": {"enabled": True, "watchNamespaces": ["a", "b"]}})
    assert _grants(objects, "ClusterRole") == {**CRD_READ, "namespaces": {"list", "watch"}}
    roles = by_kind(objects, "Role")
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["a", "b"]
    for role in roles:
        assert _grants([role], "Role") == {
            **NAMESPACED_GRANTS,
            "kopfpeerings.kopf.dev": {"get", "list", "watch", "patch"},
        }
    bindings = by_kind(objects, "RoleBinding")
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["a", "b"]
    for binding in bindings:
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "forum-operator", "namespace": NAMESPACE}
        ]
    peerings = by_kind(objects, "KopfPeering")
    assert sorted(p["metadata"]["namespace"] for p in peerings) == ["a", "b"]


def test_operator_deployment_is_one_replica_recreated_with_probes(render):
    objects = render({**OPERATOR_ALL, "operator": {"enabled": True, "watchNamespaces": ["a", "b"]}})
    deployment = named(objects, "Deployment", "forum-operator")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    spec = deployment["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == "forum-operator"
    (c,) = spec["containers"]
    assert c["command"] == ["forum-operator"]
    assert c["args"] == [
        *("--namespace", "a", "--namespace", "b"),
        *("--health-port", "8080", "--metrics-port", "9090", "--peering", "forumdb"),
        *("--log-level", "INFO"),
    ]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    # Kopf serves /healthz only once the operator has started: a crash-looping operator is
    # never Ready, so its Deployment never counts it as available.
    assert c["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    health = next(p for p in c["ports"] if p["name"] == "health")
    assert str(health["containerPort"]) == c["args"][c["args"].index("--health-port") + 1]
    assert env_of(c)["FORUMDB_DRIFT_INTERVAL"] == "300"
    standalone = render(
        {**OPERATOR_ALL, "operator": {"enabled": True, "peering": {"enabled": False}}}
    )
    (c,) = named(standalone, "Deployment", "forum-operator")["spec"]["template"]["spec"][
        "containers"
    ]
    assert c["args"][0] == "--all-namespaces"
    assert "--standalone" in c["args"]
    assert "--peering" not in c["args"]
    assert not by_kind(standalone, "ClusterKopfPeering")
    assert "clusterkopfpeerings.kopf.dev" not in _grants(standalone, "ClusterRole")


def test_no_operator_objects_unless_enabled(render):
    objects = render(DYNAMODB)
    kinds = {o["kind"] for o in objects}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
    assert not kinds & {"ClusterKopfPeering", "KopfPeering", "ForumDatabase"}


def test_operator_webhook_is_served_behind_its_service_with_a_named_patch_grant(render):
    values = MATRIX["dynamodb, operator with the admission webhook and allowed regions"]
    objects = render(values)
    deployment = named(objects, "Deployment", "forum-operator")
    spec = deployment["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    args = c["args"]
    assert args[args.index("--allowed-regions") + 1] == "us-east-1,us-west-2"
    assert args[args.index("--cluster-id") + 1] == "prod-eu"
    assert args[args.index("--webhook-port") + 1] == "9443"
    # a Service reference, not a URL: the API server resolves no cluster DNS names
    assert "--webhook-host" not in args
    assert args[args.index("--webhook-service") + 1] == f"{NAMESPACE}/forum-operator-webhook"
    configuration = f"forum-operator.{NAMESPACE}.forumdb.io"
    assert args[args.index("--webhook-configuration") + 1] == configuration
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        # created by the chart (so uninstall deletes it), filled in by the operator: no
        # webhooks of its own, which helm's three-way merge would reset on every upgrade
        assert "webhooks" not in named(objects, kind, configuration)
    cert_dir = args[args.index("--webhook-cert-dir") + 1]
    cert_volume = volumes_of(spec)[mounts_of(c)[cert_dir]]
    assert cert_volume["secret"] == {"secretName": "forum-webhook-tls"}
    service = named(objects, "Service", "forum-operator-webhook")
    assert service["spec"]["ports"] == [
        {"name": "webhook", "port": 9443, "targetPort": "webhook", "protocol": "TCP"}
    ]
    assert {"name": "webhook", "containerPort": 9443, "protocol": "TCP"} in c["ports"]
    webhook_rules = [
        r for r in _rules(objects) if r["apiGroups"] == ["admissionregistration.k8s.io"]
    ]
    assert webhook_rules == [
        {
            "apiGroups": ["admissionregistration.k8s.io"],
            "resources": ["validatingwebhookconfigurations", "mutatingwebhookconfigurations"],
            "verbs": ["create"],
        },
        {
            "apiGroups": ["admissionregistration.k8s.io"],
            "resources": ["validatingwebhookconfigurations", "mutatingwebhookconfigurations"],
            "resourceNames": [f"forum-operator.{NAMESPACE}.forumdb.io"],
            "verbs": ["patch"],
        },
    ]
    assert not [
        r for r in _rules(render(OPERATOR_ALL)) if "admissionregistration.k8s.io" in r["apiGroups"]
    ]
