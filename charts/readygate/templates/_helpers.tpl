{{/*
Labels of every object: those of manifests/ plus Helm's own and .Values.extraLabels.
*/}}
{{- define "readygate.labels" -}}
app.kubernetes.io/name: readygate
app.kubernetes.io/part-of: readygate
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- with .Values.extraLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The operator's pods (Deployment selector, Service, NetworkPolicy): as in manifests/base. */}}
{{- define "readygate.selectorLabels" -}}
app.kubernetes.io/name: readygate
app.kubernetes.io/component: operator
{{- end }}

{{- define "readygate.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end }}

{{/* A list, or one comma-separated string, as the comma-separated value of an env var. */}}
{{- define "readygate.csv" -}}
{{- if kindIs "slice" . -}}
{{ join "," . }}
{{- else -}}
{{ . | default "" | toString }}
{{- end -}}
{{- end }}

{{/* The operator's arguments: what it serves (see values.yaml, watchNamespace). */}}
{{- define "readygate.args" -}}
{{- if and .Values.watchNamespace .Values.namespacePatterns -}}
{{- fail "set watchNamespace (one namespace) or namespacePatterns (cluster-wide), not both" -}}
{{- end -}}
{{- $args := list "run" -}}
{{- if .Values.watchNamespace -}}
{{- $args = concat $args (list "--namespace" .Values.watchNamespace) -}}
{{- else if .Values.namespacePatterns -}}
{{- $args = concat $args (list "--namespace" (join "," .Values.namespacePatterns)) -}}
{{- end -}}
{{- $args = concat $args (list "--liveness" "http://0.0.0.0:8080/healthz") -}}
{{ toJson $args }}
{{- end }}

{{/*
What the operator does in every namespace it serves: the rules of
manifests/overlays/single-namespace/watched/role.yaml, the first rules of
manifests/rbac/cluster-wide/clusterrole.yaml. Why each: docs/operator.md ("RBAC").
*/}}
{{- define "readygate.namespacedRules" -}}
# The checks: kopf lists and watches them and patches its finalizer and annotations; the one
# status writer patches status.
- apiGroups: [readygate.io]
  resources: [readinesschecks]
  verbs: [get, list, watch, patch]
- apiGroups: [readygate.io]
  resources: [readinesschecks/status]
  verbs: [get, patch]
# Events on the checks (kopf posts core events; the events.k8s.io API for newer writers).
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create]
# target.deploy: the Deployment and Service readygate owns; target.workloadRef: read them.
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, create, update, watch]
- apiGroups: [apps]
  resources: [statefulsets]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [services]
  verbs: [get, list, create, update]
# A Service target without a selector: its EndpointSlices must all be pods of the namespace.
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list]
# Diagnosis (pods, their logs), resilience (killing pods), pod readiness gates (pods/status);
# list and watch feed the one shared watch cache every run and gate reads pods from.
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, delete, watch]
- apiGroups: [""]
  resources: [pods/status]
  verbs: [patch]
- apiGroups: [""]
  resources: [pods/log]
  verbs: [get]
# Auth headers from secretKeyRef (get); the load plan of a distributed load run (create, delete).
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, create, delete]
# Distributed load: Job pods whose histograms are merged.
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, create, delete, watch]
{{- end }}

{{/*
What exists only at cluster scope: the node a target's pod runs on, and that kubelet's
/stats/summary (container memory for the stability check). nodes/stats, never nodes/proxy.
*/}}
{{- define "readygate.nodeRules" -}}
- apiGroups: [""]
  resources: [nodes]
  verbs: [get]
- apiGroups: [""]
  resources: [nodes/stats]
  verbs: [get]
{{- end }}

{{/* The restricted Pod Security Standard, as manifests/base/deployment.yaml. */}}
{{- define "readygate.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}
{{- define "readygate.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
An object of manifests/monitoring (copied to files/monitoring/, tests/unit/test_helm_chart.py
keeps the copies equal) in the release namespace, with the chart's labels and `extra`.
Read with .Files.Get, never templated: its alert annotations contain Prometheus templates
($labels.namespace, ...) that Helm must not evaluate.
*/}}
{{- define "readygate.monitoringObject" -}}
{{- $obj := .root.Files.Get .file | fromYaml -}}
{{- if or (not $obj) (hasKey $obj "Error") -}}
{{- fail (printf "%s: not one YAML object: %v" .file $obj) -}}
{{- end -}}
{{- $_ := set $obj.metadata "namespace" .root.Release.Namespace -}}
{{- $labels := merge (dict) (.extra | default dict) (fromYaml (include "readygate.labels" .root)) ($obj.metadata.labels | default dict) -}}
{{- $_ := set $obj.metadata "labels" $labels -}}
{{- $obj | toYaml -}}
{{- end }}
