{{/* The release's full name: "laiki" for a release named laiki. */}}
{{- define "laiki.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "laiki.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "laiki.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "laiki.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "laiki.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Whether cert-manager makes the webhook's certificate. */}}
{{- define "laiki.certManager" -}}
{{- $cm := .Values.webhook.certManager.enabled -}}
{{- if eq (toString $cm) "auto" -}}
{{- if .Capabilities.APIVersions.Has "cert-manager.io/v1" -}}true{{- end -}}
{{- else if eq (toString $cm) "true" -}}true{{- end -}}
{{- end -}}

{{- define "laiki.webhookSecret" -}}{{ include "laiki.fullname" . }}-webhook-tls{{- end -}}

{{/* laiki.yaml: the sources with credentials as environment variables and
files of the pod, the chart's policies as a ConfigMap source, policy-data. */}}
{{- define "laiki.config" -}}
{{- $sources := list -}}
{{- range $i, $s := .Values.sources -}}
{{- $src := omit $s "credentials" -}}
{{- with $s.credentials -}}
{{- $auth := dict -}}
{{- if .username -}}{{- $_ := set $auth "username" .username -}}{{- end -}}
{{- if .tokenKey -}}{{- $_ := set $auth "token-env" (printf "LAIKI_SOURCE_%d_TOKEN" $i) -}}{{- end -}}
{{- if .sshKeyKey -}}{{- $_ := set $auth "ssh-key-env" (printf "LAIKI_SOURCE_%d_SSH_KEY" $i) -}}{{- end -}}
{{- if .knownHostsKey -}}{{- $_ := set $auth "known-hosts-file" (printf "/etc/laiki/known-hosts/%d/known_hosts" $i) -}}{{- end -}}
{{- $git := deepCopy (required (printf "sources[%d]: credentials need a git source" $i) $src.git) -}}
{{- $_ := set $git "auth" $auth -}}
{{- $_ := set $src "git" $git -}}
{{- end -}}
{{- $sources = append $sources $src -}}
{{- end -}}
{{- if .Values.policies -}}
{{- $sources = append $sources (dict "name" "chart-policies" "role" "platform" "configmap" (dict "namespace" .Release.Namespace "name" (printf "%s-policies" (include "laiki.fullname" .)))) -}}
{{- end -}}
{{- $config := dict "sources" $sources "policy-data" .Values.policyData -}}
{{- with .Values.budgets -}}{{- $_ := set $config "budgets" . -}}{{- end -}}
{{- toYaml $config -}}
{{- end -}}

{{- /* What the workflows make (applied, and pruned when no longer wanted),
Crane's data claims (made, never deleted: they hold the data) and Events:
in every namespace, or in each of .Values.namespaces. */ -}}
{{- define "laiki.workflowRules" -}}
- apiGroups: [openanalytics.eu]
  resources: [shinyproxies]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [apps]
  resources: [daemonsets]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [get, list, watch, create, update, patch]
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create, patch, update]
# The PrePuller's pods, read for images that cannot be pulled.
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
{{- end -}}

{{/*
The plural names of Laiki's kinds, read from the chart's CRDs (made from the
Go types in engine/api), so that a kind added there is in the roles without
an edit here: (list . category suffix) gives those in the category ("" for
all) with the suffix ("/status") as a YAML flow list.
*/}}
{{- define "laiki.kinds" -}}
{{- $root := index . 0 -}}
{{- $category := index . 1 -}}
{{- $suffix := index . 2 -}}
{{- $out := list -}}
{{- range $path, $_ := $root.Files.Glob "crds/laiki.io_*.yaml" -}}
{{- $names := ($root.Files.Get $path | fromYaml).spec.names -}}
{{- if or (not $category) (has $category ($names.categories | default list)) -}}
{{- $out = append $out (printf "%s%s" $names.plural $suffix) -}}
{{- end -}}
{{- end -}}
{{- $out | toJson -}}
{{- end -}}
