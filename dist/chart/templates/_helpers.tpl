{{/* The chart's name, or nameOverride. */}}
{{- define "arcgis-token-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The release's full name, the prefix of every object: fullnameOverride, or the
release name when it already holds the chart's name, or both joined.
*/}}
{{- define "arcgis-token-operator.fullname" -}}
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

{{/* chart-version, for the helm.sh/chart label. */}}
{{- define "arcgis-token-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "arcgis-token-operator.labels" -}}
helm.sh/chart: {{ include "arcgis-token-operator.chart" . }}
{{ include "arcgis-token-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: arcgis-token-operator
{{- end }}

{{/* Labels that select the manager's pods. */}}
{{- define "arcgis-token-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "arcgis-token-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The manager's Deployment, and its ServiceAccount unless serviceAccount.name
says otherwise. Every object is named as `kubectl apply -k config/default`
names it, with the full name as the prefix: release arcgis-token-operator in
namespace arcgis-token-operator-system gives exactly config/default's names,
so the docs' commands and the alerts hold for both.
*/}}
{{- define "arcgis-token-operator.managerName" -}}
{{- printf "%s-controller-manager" (include "arcgis-token-operator.fullname" .) }}
{{- end }}

{{/* The metrics Service, whose name is the job label of the scraped series (a DNS label: at most 63 characters). */}}
{{- define "arcgis-token-operator.metricsServiceName" -}}
{{- printf "%s-controller-manager-metrics-service" (include "arcgis-token-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The manager's ServiceAccount. */}}
{{- define "arcgis-token-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "arcgis-token-operator.managerName" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The manager's image: repository@digest, or repository:tag. */}}
{{- define "arcgis-token-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default (printf "v%s" .Chart.AppVersion) .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The manager's RBAC rules, read from files/rbac/role.yaml: a copy of
config/rbac/role.yaml, which controller-gen generates from the markers
(dist/chart/sync.sh copies it).
*/}}
{{- define "arcgis-token-operator.managerRules" -}}
{{- $role := .Files.Get "files/rbac/role.yaml" | fromYaml }}
{{- if not $role.rules }}
{{- fail "files/rbac/role.yaml holds no rules: run dist/chart/sync.sh" }}
{{- end }}
{{- toYaml $role.rules }}
{{- end }}
