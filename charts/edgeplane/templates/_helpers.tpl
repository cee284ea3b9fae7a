{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "edgeplane.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Object name prefix: <release>-edgeplane, or the release name when it already says edgeplane. */}}
{{- define "edgeplane.fullname" -}}
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

{{- define "edgeplane.controlPlaneName" -}}
{{- printf "%s-control-plane" (include "edgeplane.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "edgeplane.agentName" -}}
{{- printf "%s-agent" (include "edgeplane.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "edgeplane.agentNamespace" -}}
{{- default .Release.Namespace .Values.agent.namespace }}
{{- end }}

{{- define "edgeplane.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "edgeplane.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: edgeplane
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component; never change on upgrade (selectors are immutable). */}}
{{- define "edgeplane.selectorLabels" -}}
app.kubernetes.io/name: {{ include "edgeplane.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "edgeplane.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "edgeplane.controlPlaneName" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "edgeplane.image" -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) }}
{{- end }}

{{/* Name of the Secret the chart writes the plain NATS and Redis URLs into. */}}
{{- define "edgeplane.connectionSecretName" -}}
{{- printf "%s-connections" (include "edgeplane.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Environment for one backend URL (nats or redis). Three forms, first match wins:
  urlSecret.name    the whole URL from that Secret;
  auth.existingSecret  user and password from that Secret, spliced into url by the
                    kubelet's $(VAR) expansion, so they never appear in the pod spec;
  otherwise         url, from the chart's own Secret.
Arguments: root, backend (nats|redis), env (EP_NATS_URL|EP_REDIS_URL).
*/}}
{{- define "edgeplane.backendUrlEnv" -}}
{{- $v := index .root.Values .backend }}
{{- $prefix := trimSuffix "_URL" .env }}
{{- if $v.urlSecret.name }}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ $v.urlSecret.name }}
      key: {{ $v.urlSecret.key }}
{{- else if $v.auth.existingSecret }}
{{- $u := urlParse $v.url }}
{{- $userinfo := printf ":$(%s_PASSWORD)" $prefix }}
{{- if $v.auth.usernameKey }}
- name: {{ $prefix }}_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ $v.auth.existingSecret }}
      key: {{ $v.auth.usernameKey }}
{{- $userinfo = printf "$(%s_USERNAME):$(%s_PASSWORD)" $prefix $prefix }}
{{- end }}
- name: {{ $prefix }}_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $v.auth.existingSecret }}
      key: {{ $v.auth.passwordKey }}
- name: {{ .env }}
  value: {{ printf "%s://%s@%s%s" $u.scheme $userinfo $u.host $u.path | quote }}
{{- else }}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ include "edgeplane.connectionSecretName" .root }}
      key: {{ .backend }}-url
{{- end }}
{{- end }}

{{/* Cross-field rules JSON Schema cannot state; each failure names the value. */}}
{{- define "edgeplane.validate" -}}
{{- $le := .Values.controlPlane.leaderElection }}
{{- if ge (int $le.renewDeadlineMs) (int $le.leaseDurationMs) }}
{{- fail (printf "controlPlane.leaderElection.renewDeadlineMs (%d) must be less than controlPlane.leaderElection.leaseDurationMs (%d)" (int $le.renewDeadlineMs) (int $le.leaseDurationMs)) }}
{{- end }}
{{- if ge (int $le.retryPeriodMs) (int $le.renewDeadlineMs) }}
{{- fail (printf "controlPlane.leaderElection.retryPeriodMs (%d) must be less than controlPlane.leaderElection.renewDeadlineMs (%d)" (int $le.retryPeriodMs) (int $le.renewDeadlineMs)) }}
{{- end }}
{{- if and .Values.controlPlane.podDisruptionBudget.enabled (ge (int .Values.controlPlane.podDisruptionBudget.minAvailable) (int .Values.controlPlane.replicas)) }}
{{- fail (printf "controlPlane.podDisruptionBudget.minAvailable (%d) must be less than controlPlane.replicas (%d), or no node could ever be drained" (int .Values.controlPlane.podDisruptionBudget.minAvailable) (int .Values.controlPlane.replicas)) }}
{{- end }}
{{- include "edgeplane.validateTrust" . }}
{{- end }}

{{/* The secure setup's cross-field rules; nats.insecure lifts all but the model trust. */}}
{{- define "edgeplane.validateTrust" -}}
{{- $a := .Values.agent }}
{{- if not .Values.nats.insecure }}
{{- if not .Values.trust.existingSecret }}
{{- fail "trust.existingSecret must name the Secret made from `edgeplane certs` (trust.json, ca.pem, control-plane.creds), unless nats.insecure is true" }}
{{- end }}
{{- if and (not .Values.nats.urlSecret.name) (not (regexMatch "^(tls|wss)://" .Values.nats.url)) }}
{{- fail (printf "nats.url (%s) must be tls:// or wss:// unless nats.insecure is true" .Values.nats.url) }}
{{- end }}
{{- if $a.enabled }}
{{- if not $a.bootstrapToken.existingSecret }}
{{- fail "agent.bootstrapToken.existingSecret must name the Secret holding the join token from `edgeplane token create`, unless nats.insecure is true" }}
{{- end }}
{{- if and $a.caHash $a.caConfigMap.name }}
{{- fail "agent.caHash and agent.caConfigMap.name: set one, not both (the pin finds the CA in the server's chain; the ConfigMap holds the CA itself)" }}
{{- end }}
{{- if not (or $a.caHash $a.caConfigMap.name) }}
{{- fail "agent.caHash must pin the fleet CA (sha256:<hex>, printed by `edgeplane certs`), or agent.caConfigMap.name name a ConfigMap holding it, unless nats.insecure is true" }}
{{- end }}
{{- range $u := splitList "," $a.natsUrl }}
{{- if not (regexMatch (ternary "^tls://" "^(tls|wss)://" (not (empty $a.caHash))) (trim $u)) }}
{{- fail (printf "agent.natsUrl (%s) must be tls://%s unless nats.insecure is true" (trim $u) (ternary " (the CA pin is read from the TLS handshake)" " or wss://" (not (empty $a.caHash)))) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- if and $a.enabled $a.modelTrust.requireSignature (or (not $a.modelTrust.publicKeysSecret.name) (empty $a.modelTrust.publicKeysSecret.keys)) }}
{{- fail "agent.modelTrust.publicKeysSecret must name a Secret and its keys holding the trusted public keys while agent.modelTrust.requireSignature is true" }}
{{- end }}
{{- end }}

{{/* Where the control plane mounts the trust Secret (trust.json, ca.pem, control-plane.creds). */}}
{{- define "edgeplane.trustDir" -}}
/etc/edgeplane/trust
{{- end }}

{{/* Rules for EdgeModelDeployments and the Events recorded on them. */}}
{{- define "edgeplane.deploymentRules" -}}
- apiGroups: ["edgeplane.io"]
  resources: ["edgemodeldeployments"]
  # patch: the finalizer that holds a deleted deployment until its workloads are out of KV.
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["edgeplane.io"]
  resources: ["edgemodeldeployments/status"]
  verbs: ["get", "update"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  # patch: a repeated Event becomes a series (its count), as client-go's recorder does.
  # list: the dashboard shows a deployment's Events.
  verbs: ["create", "patch", "list"]
{{- end }}
