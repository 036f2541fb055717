{{- define "type" -}}
{{- if markdownShouldRenderType . }}
### {{ .Name }}
{{ if .IsAlias }}
_Type:_ {{ markdownRenderTypeLink .UnderlyingType }}
{{ end }}
{{ .Doc | replace "<" "&lt;" | replace ">" "&gt;" }}
{{ template "rules" . }}
{{- if .References }}
_Used in:_ {{ range $i, $r := .SortedReferences }}{{ if $i }}, {{ end }}{{ markdownRenderTypeLink $r }}{{ end }}
{{ end }}
{{- if .Members }}
| field | type | default | validation | description |
| --- | --- | --- | --- | --- |
{{- if .GVK }}
| `apiVersion` | string | | `{{ .GVK.Group }}/{{ .GVK.Version }}` | |
| `kind` | string | | `{{ .GVK.Kind }}` | |
{{- end }}
{{- range .Members }}
| `{{ .Name }}` | {{ markdownRenderType .Type }} | {{ with .Default }}`{{ . }}`{{ end }} | {{ template "validation" . }} | {{ if eq .Name "metadata" }}Standard object metadata.{{ else }}{{ .Doc | replace "<" "&lt;" | replace ">" "&gt;" | markdownRenderFieldDoc }}{{ end }} |
{{- end }}
{{ end }}
{{- if .EnumValues }}
| value | description |
| --- | --- |
{{- range .EnumValues }}
| `{{ .Name }}` | {{ .Doc | replace "<" "&lt;" | replace ">" "&gt;" | markdownRenderFieldDoc }} |
{{- end }}
{{ end }}
{{- end }}
{{- end -}}

{{- /* The type's own CEL rules (on a struct: across its fields). */ -}}
{{- define "rules" -}}
{{- with index .Markers "kubebuilder:validation:XValidation" }}
Rules the API server enforces (CEL):
{{ range . }}
- {{ .Message }}: `{{ .Rule }}`
{{- end }}
{{ end }}
{{- end -}}

{{- /* A field's validation: required or not, the OpenAPI markers, then its CEL rules' messages. */ -}}
{{- define "validation" -}}
{{- $parts := list -}}
{{- if index .Markers "required" }}{{ $parts = append $parts "required" }}{{ end -}}
{{- range .Validation -}}
{{- if not (or (eq . "Optional: {}") (eq . "Required: {}")) }}{{ $parts = append $parts (markdownRenderFieldDoc .) }}{{ end -}}
{{- end -}}
{{- range index .Markers "kubebuilder:validation:XValidation" }}{{ $parts = append $parts (printf "CEL: %s" .Message) }}{{ end -}}
{{- join "<br />" $parts -}}
{{- end -}}
