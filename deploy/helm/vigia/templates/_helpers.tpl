{{/* The chart's name, overridable. */}}
{{- define "vigia.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The objects' name: the release's, prefixed unless it already says vigia. */}}
{{- define "vigia.fullname" -}}
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

{{- define "vigia.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vigia.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "vigia.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "vigia.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: node-agent
{{- end }}

{{- define "vigia.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "vigia.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image as the Dockerfile tags it: repository:VERSION[-COMMIT][@digest]. */}}
{{- define "vigia.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.commit }}
{{- $tag = printf "%s-%s" $tag .Values.image.commit }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* vigia.yaml: the configuration from values, with admin.auth when adminAuth is on. */}}
{{- define "vigia.config" -}}
{{- $config := deepCopy .Values.config }}
{{- if .Values.adminAuth.enabled }}
{{- $admin := default dict $config.admin }}
{{- $_ := set $admin "auth" (dict "jwks_file" "/etc/vigia-jwks/jwks.json" "issuer" .Values.adminAuth.issuer "audience" .Values.adminAuth.audience) }}
{{- $_ := set $config "admin" $admin }}
{{- end }}
{{- toYaml $config }}
{{- end }}
