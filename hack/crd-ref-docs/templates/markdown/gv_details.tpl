{{- define "gvDetails" -}}
## {{ .GroupVersionString }}

{{ .Doc }}
{{ if .Kinds }}
Kinds: {{ range $i, $k := .SortedKinds }}{{ if $i }}, {{ end }}{{ $.TypeForKind $k | markdownRenderTypeLink }}{{ end }}.
{{ end }}
{{- range .SortedTypes }}
{{ template "type" . }}
{{- end }}
{{- end -}}
