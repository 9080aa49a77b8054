// Package openapi holds the server's OpenAPI 3.1 description, generated from the swag
// annotations on the handlers in api/ and committed beside this file. The server embeds it
// and serves it at /openapi.json and /openapi.yaml; Swagger UI at /docs renders it.
//
// Regenerate after changing a route, an annotation, the registry or the fixtures used as
// examples (docs/api-docs.md explains how the generator works):
//
//	go generate ./openapi
//
// CI regenerates it and fails when the result differs from the committed files.
package openapi

import _ "embed"

//go:generate go run ./gen -root .. -out .

var (
	//go:embed openapi.json
	specJSON []byte
	//go:embed openapi.yaml
	specYAML []byte
)

// JSON returns the OpenAPI description as JSON. The slice is shared: do not modify it.
func JSON() []byte { return specJSON }

// YAML returns the same description as YAML. The slice is shared: do not modify it.
func YAML() []byte { return specYAML }
