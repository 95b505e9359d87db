{{/*
Expand the name of the chart.
*/}}
{{- define "forum.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
A default fully qualified app name, truncated to 63 characters (DNS label limit).
The release name alone is used when it already contains the chart name.
*/}}
{{- define "forum.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version as used by the chart label.
*/}}
{{- define "forum.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "forum.labels" -}}
helm.sh/chart: {{ include "forum.chart" . }}
{{ include "forum.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: forumdb
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels.
*/}}
{{- define "forum.selectorLabels" -}}
app.kubernetes.io/name: {{ include "forum.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of one component (users, threads, posts, operator, test).
Usage: include "forum.componentLabels" (dict "ctx" $ "component" "users")
*/}}
{{- define "forum.componentLabels" -}}
{{ include "forum.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Selector labels of one component.
Usage: include "forum.componentSelectorLabels" (dict "ctx" $ "component" "users")
*/}}
{{- define "forum.componentSelectorLabels" -}}
{{ include "forum.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
The three services, in a fixed order.
*/}}
{{- define "forum.serviceNames" -}}
{{- list "users" "threads" "posts" | toJson }}
{{- end }}

{{/*
The enabled services, as a JSON list.
*/}}
{{- define "forum.enabledServiceNames" -}}
{{- $enabled := list }}
{{- range $name := include "forum.serviceNames" . | fromJsonArray }}
{{- if (index $.Values.services $name).enabled }}
{{- $enabled = append $enabled $name }}
{{- end }}
{{- end }}
{{- $enabled | toJson }}
{{- end }}

{{/*
Object name of one service's Deployment, Service, claim...
Usage: include "forum.serviceFullname" (dict "ctx" $ "name" "users")
*/}}
{{- define "forum.serviceFullname" -}}
{{- printf "%s-%s" (include "forum.fullname" .ctx | trunc 55 | trimSuffix "-") .name }}
{{- end }}

{{/*
Object name of the operator's objects.
*/}}
{{- define "forum.operator.fullname" -}}
{{- printf "%s-operator" (include "forum.fullname" . | trunc 54 | trimSuffix "-") }}
{{- end }}

{{/*
Name of the operator's Validating/MutatingWebhookConfiguration (cluster-scoped, so the release
namespace is part of it): the chart creates both, the operator (Kopf) fills in the webhooks.
*/}}
{{- define "forum.operator.webhookConfigurationName" -}}
{{- printf "%s.%s.forumdb.io" (include "forum.operator.fullname" .) .Release.Namespace }}
{{- end }}

{{/*
The container image reference; a digest wins over the tag.
*/}}
{{- define "forum.image" -}}
{{- $repo := .Values.image.repository }}
{{- if .Values.image.registry }}
{{- $repo = printf "%s/%s" .Values.image.registry .Values.image.repository }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repo .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo (.Values.image.tag | default .Chart.AppVersion | toString) }}
{{- end }}
{{- end }}

{{/*
imagePullSecrets of a pod spec.
*/}}
{{- define "forum.imagePullSecrets" -}}
{{- with .Values.image.pullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/*
ServiceAccount of the services.
*/}}
{{- define "forum.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "forum.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
ServiceAccount of the operator.
*/}}
{{- define "forum.operator.serviceAccountName" -}}
{{- if .Values.operator.serviceAccount.create }}
{{- default (include "forum.operator.fullname" .) .Values.operator.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.operator.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The ConfigMap the operator publishes for a ForumDatabase (the operator's contract).
*/}}
{{- define "forum.forumDatabaseConfigMap" -}}
{{- printf "forumdb-%s" .Values.database.forumDatabase }}
{{- end }}

{{/*
"true" when the pods keep the operator's ConfigMap in a folder through the API (init container
+ sidecar, forumdb_services.configsync) instead of mounting it; empty otherwise.
*/}}
{{- define "forum.configSync.enabled" -}}
{{- if and (eq .Values.database.mode "dynamodb") .Values.database.forumDatabase .Values.database.configSync.enabled }}true{{- end }}
{{- end }}

{{/*
A config-sync container (without its name): `once` true for the init container, which waits
for the ConfigMap and writes the folder, false for the sidecar, which keeps it in step. Only
these containers mount an API token (the config-sync-token volume), at the path the
Kubernetes client looks for it.
*/}}
{{- define "forum.configSync.container" -}}
{{- $ := .ctx -}}
image: {{ include "forum.image" $ | quote }}
imagePullPolicy: {{ $.Values.image.pullPolicy }}
command:
  - python
  - -m
  - forumdb_services.configsync
args:
  {{- if .once }}
  - --once
  {{- end }}
  - --namespace
  - {{ $.Release.Namespace | quote }}
  - --name
  - {{ include "forum.forumDatabaseConfigMap" $ | quote }}
  - --dir
  - {{ $.Values.database.configMountPath | quote }}
env:
  - name: LOG_LEVEL
    value: {{ $.Values.services.logLevel | quote }}
securityContext:
  {{- toYaml $.Values.services.containerSecurityContext | nindent 2 }}
resources:
  {{- toYaml $.Values.database.configSync.resources | nindent 2 }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
  - name: forumdb-config
    mountPath: {{ $.Values.database.configMountPath | quote }}
  - name: config-sync-token
    mountPath: /var/run/secrets/kubernetes.io/serviceaccount
    readOnly: true
{{- end }}

{{/*
The namespaces the operator watches: empty means all.
*/}}
{{- define "forum.operator.watchesAll" -}}
{{- if empty .Values.operator.watchNamespaces }}true{{- end }}
{{- end }}

{{/*
AWS settings shared by the services and the operator: region, endpoint, and static keys
only from an existing Secret.
*/}}
{{- define "forum.awsEnv" -}}
{{- with .Values.aws.region }}
- name: AWS_REGION
  value: {{ . | quote }}
{{- end }}
{{- with .Values.aws.endpointUrl }}
- name: AWS_ENDPOINT_URL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.aws.existingSecret }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ . | quote }}
      key: {{ $.Values.aws.accessKeyIdKey | quote }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . | quote }}
      key: {{ $.Values.aws.secretAccessKeyKey | quote }}
{{- if $.Values.aws.sessionTokenKey }}
- name: AWS_SESSION_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ . | quote }}
      key: {{ $.Values.aws.sessionTokenKey | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/*
apiVersion of the PodDisruptionBudgets: policy/v1 where the cluster serves it, policy/v1beta1
(same fields) on clusters before 1.21; empty if neither. A cluster's discovery lists each kind
(group/version/Kind), which wins; offline `helm template` knows only helm's built-in group
versions, unless --api-versions names a kind.
*/}}
{{- define "forum.pdbApiVersion" -}}
{{- $has := .Capabilities.APIVersions }}
{{- if $has.Has "policy/v1/PodDisruptionBudget" }}policy/v1
{{- else if $has.Has "policy/v1beta1/PodDisruptionBudget" }}policy/v1beta1
{{- else if $has.Has "policy/v1" }}policy/v1
{{- else if $has.Has "policy/v1beta1" }}policy/v1beta1
{{- end }}
{{- end }}

{{/*
The services' authentication mode: auth.mode, or `jwt` when it is empty and auth.issuer is set
(as the services decide); empty when neither is set, which validateValues refuses.
*/}}
{{- define "forum.authMode" -}}
{{- if .Values.auth.mode }}{{ .Values.auth.mode }}{{ else if .Values.auth.issuer }}jwt{{ end }}
{{- end }}

{{/*
AUTH_* settings of the service containers (README.md "Authentication").
*/}}
{{- define "forum.authEnv" -}}
{{- $mode := include "forum.authMode" . }}
- name: AUTH_MODE
  value: {{ $mode | quote }}
{{- if eq $mode "jwt" }}
{{- with .Values.auth }}
- name: AUTH_ISSUER
  value: {{ .issuer | quote }}
- name: AUTH_AUDIENCE
  value: {{ .audience | quote }}
{{- with .jwksUrl }}
- name: AUTH_JWKS_URL
  value: {{ . | quote }}
{{- end }}
- name: AUTH_ADMIN_CLAIM
  value: {{ .adminClaim | quote }}
- name: AUTH_ADMIN_VALUE
  value: {{ .adminValue | quote }}
{{- with .userClaim }}
- name: AUTH_USER_CLAIM
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Checks across values that a JSON schema cannot express well; each message names the value.
*/}}
{{- define "forum.validateValues" -}}
{{- $errors := list }}
{{- if eq .Values.database.mode "json" }}
{{- range $name := include "forum.enabledServiceNames" . | fromJsonArray }}
{{- $svc := index $.Values.services $name }}
{{- $replicas := ternary $.Values.services.replicaCount $svc.replicaCount (kindIs "invalid" $svc.replicaCount) | int }}
{{- if gt $replicas 1 }}
{{- $errors = append $errors (printf "database.mode=json keeps each service's data in one file with a single writer: services.%s.replicaCount (or services.replicaCount) must be 0 or 1, got %d; use database.mode=dynamodb to scale out" $name $replicas) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and (eq .Values.database.mode "dynamodb") (not .Values.database.forumDatabase) (not .Values.aws.region) }}
{{- $extraNames := list }}
{{- range (concat .Values.services.extraEnv (list)) }}{{ $extraNames = append $extraNames .name }}{{ end }}
{{- if not (or (has "AWS_REGION" $extraNames) (has "AWS_DEFAULT_REGION" $extraNames)) }}
{{- $errors = append $errors "database.mode=dynamodb without database.forumDatabase needs aws.region: no operator ConfigMap tells the services which region their tables are in" }}
{{- end }}
{{- end }}
{{- if and .Values.forumDatabase.create (not .Values.database.forumDatabase) }}
{{- $errors = append $errors "forumDatabase.create=true needs database.forumDatabase, the name of the ForumDatabase to create" }}
{{- end }}
{{- if and .Values.services.pdb.create .Values.services.pdb.minAvailable (not (kindIs "invalid" .Values.services.pdb.maxUnavailable)) (ne (toString .Values.services.pdb.maxUnavailable) "") }}
{{- $errors = append $errors "services.pdb: set minAvailable or maxUnavailable, not both (set maxUnavailable to \"\")" }}
{{- end }}
{{- if and .Values.services.pdb.create (not (include "forum.pdbApiVersion" .)) }}
{{- $errors = append $errors (printf "services.pdb.create=true needs PodDisruptionBudgets (policy/v1, or policy/v1beta1 before Kubernetes 1.21); this cluster (%s) serves neither" .Capabilities.KubeVersion.Version) }}
{{- end }}
{{- if and .Values.operator.enabled .Values.operator.webhook.enabled (not .Values.operator.webhook.certSecret) }}
{{- $errors = append $errors "operator.webhook.enabled=true needs operator.webhook.certSecret: a Secret with tls.crt, tls.key and ca.crt for the webhook's HTTPS (e.g. from a cert-manager Certificate)" }}
{{- end }}
{{- if and .Values.database.configSync.enabled (not (include "forum.configSync.enabled" .)) }}
{{- $errors = append $errors "database.configSync.enabled=true syncs the operator's ConfigMap: it needs database.mode=dynamodb and database.forumDatabase (the ForumDatabase whose ConfigMap forumdb-NAME to sync)" }}
{{- end }}
{{- $authMode := include "forum.authMode" . }}
{{- if not $authMode }}
{{- $errors = append $errors "auth: the services need authentication settings: set auth.issuer and auth.audience (OIDC bearer tokens, auth.mode=jwt), or auth.mode=none on purpose (local demos only: anyone who reaches the services can then create, change and delete any record)" }}
{{- else if eq $authMode "jwt" }}
{{- $missing := list }}
{{- if not .Values.auth.issuer }}{{ $missing = append $missing "auth.issuer" }}{{ end }}
{{- if not .Values.auth.audience }}{{ $missing = append $missing "auth.audience" }}{{ end }}
{{- if $missing }}
{{- $errors = append $errors (printf "auth.mode=jwt needs %s: the OIDC issuer URL and the audience its tokens carry (or auth.mode=none, local demos only)" (join " and " $missing)) }}
{{- end }}
{{- if and (eq .Values.database.mode "json") (not .Values.auth.userClaim) }}
{{- $errors = append $errors "database.mode=json with auth.mode=jwt needs auth.userClaim, a token claim naming the caller's forum user id: each pod holds only its own service's folder, so the threads and posts services cannot look a token's subject up in the users" }}
{{- end }}
{{- end }}
{{- if $errors }}
{{- fail (printf "\n\nVALUES VALIDATION:\n%s" (join "\n" $errors)) }}
{{- end }}
{{- end }}

{{/*
What the operator does in a namespace it watches; no wildcards.
*/}}
{{- define "forum.operator.namespacedRules" -}}
- apiGroups: ["forumdb.io"]
  resources: ["forumdatabases"]
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["forumdb.io"]
  resources: ["forumdatabases/status"]
  verbs: ["get", "patch", "update"]
# ownerReferences with blockOwnerDeletion on the ConfigMap need update on the owner's finalizers.
- apiGroups: ["forumdb.io"]
  resources: ["forumdatabases/finalizers"]
  verbs: ["update"]
# The connection settings it publishes per ForumDatabase (forumdb-NAME).
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "watch", "create", "patch", "update", "delete"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}

{{/*
The TCP port of aws.endpointUrl (a moto server, DynamoDB Local), for the egress rules; empty
when no endpoint is set or it is plain HTTPS on 443, which the policy opens anyway.
*/}}
{{- define "forum.awsEndpointPort" -}}
{{- with .Values.aws.endpointUrl }}
{{- $url := urlParse . }}
{{- $hostPort := splitList ":" $url.host }}
{{- $port := ternary (last $hostPort) (ternary "443" "80" (eq $url.scheme "https")) (gt (len $hostPort) 1) }}
{{- if ne $port "443" }}{{ $port }}{{ end }}
{{- end }}
{{- end }}

{{/*
The TCP ports of the token issuer (auth.issuer, auth.jwksUrl) that the services fetch the
discovery document and keys from, as a JSON list, for the egress rules; only where auth is jwt
and a URL names a port other than 443 (which the policy opens anyway) and other than
aws.endpointUrl's (already opened).
*/}}
{{- define "forum.authIssuerPorts" -}}
{{- $ports := list }}
{{- if eq (include "forum.authMode" .) "jwt" }}
{{- $aws := include "forum.awsEndpointPort" . }}
{{- range $url := list .Values.auth.issuer .Values.auth.jwksUrl }}
{{- with $url }}
{{- $parsed := urlParse . }}
{{- $hostPort := splitList ":" $parsed.host }}
{{- $port := ternary (last $hostPort) (ternary "443" "80" (eq $parsed.scheme "https")) (gt (len $hostPort) 1) }}
{{- if and (ne $port "443") (ne $port $aws) (not (has $port $ports)) }}
{{- $ports = append $ports $port }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- $ports | toJson }}
{{- end }}

{{/*
The file whose existence puts forum-service in lame-duck mode (every answer closes its
connection); the preStop hook creates it on the pod's writable /tmp (an emptyDir).
*/}}
{{- define "forum.drainFile" -}}
/tmp/forum-service.draining
{{- end }}
