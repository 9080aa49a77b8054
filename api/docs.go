package api

// The comment below is the general information of the OpenAPI description. swag reads it
// (and the annotations on each handler) when openapi/gen regenerates openapi/openapi.json;
// docs/api-docs.md explains the generator. Keep the security definition last: swag reads
// every line after it as part of that definition, and keeps only the last @description line
// of it.
//
//	@title			Patient-involvement FHIR R4 server
//	@version		1.0.0
//	@description	FHIR R4 (4.0.1) REST API for patient-involvement data: Questionnaire, QuestionnaireResponse and CarePlan.
//	@description	These types offer search (GET and POST _search), create, read, vread, update, delete and instance and type history,
//	@description	and conditional create (If-None-Exist), conditional update and conditional delete by search criteria.
//	@description	The server records every access as an AuditEvent, which clients can read and search but never write.
//	@description	Bodies are FHIR JSON (application/fhir+json; application/json is accepted too); errors are OperationOutcome resources.
//	@description	The CapabilityStatement at GET /fhir/metadata lists the same types, interactions and search parameters as this document.
//	@description	Every other /fhir request needs a bearer token (Authorize, above): see the BearerAuth scheme for how to get one.
//	@externalDocs.description	FHIR R4 RESTful API specification
//	@externalDocs.url			https://hl7.org/fhir/R4/http.html
//	@tag.name			Server
//	@tag.description	The CapabilityStatement, SMART discovery, the dev mode key and the health endpoints: none needs a token
//	@securityDefinitions.bearerauth	BearerAuth
//	@description					A JWT sent as `Authorization: Bearer <token>`, required on every /fhir operation but GET /fhir/metadata (401 without a valid one, 403 when its SMART scopes do not allow the interaction). In dev mode, the default when no `FHIR_JWT_ISSUER` is set, the server prints an admin token (scope `system/*.*`) when it starts: paste it here, without `Bearer`. Mint others on the same data directory with `fhir-server token`, e.g. `--scope "patient/*.cruds" --patient pat-anna-jensen`. In jwks mode the tokens come from the authorization server that `/.well-known/smart-configuration` names.
//	@bearerFormat					JWT

import (
	"context"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"

	"github.com/gin-gonic/gin"
	swaggerFiles "github.com/swaggo/files/v2"
	ginSwagger "github.com/swaggo/gin-swagger"
	"golang.org/x/net/webdav"

	"github.com/patient-involvement/fhir-server/openapi"
)

// Where the API documentation is served.
const (
	docsPath        = "/docs"
	openAPIJSONPath = "/openapi.json"
	openAPIYAMLPath = "/openapi.yaml"
)

// resourceDoc is the shape of a FHIR resource in the OpenAPI description. openapi/gen turns
// it into one schema per served type, with a fixture as its example; the server itself
// passes resources through as JSON and never uses this type.
type resourceDoc struct {
	// ResourceType names the FHIR resource type; it must match the type in the URL.
	ResourceType string `json:"resourceType" example:"QuestionnaireResponse"`
	// ID is the logical id; the server assigns it on create.
	ID string `json:"id,omitempty" example:"qr-phq9-001" pattern:"^[A-Za-z0-9\\-\\.]{1,64}$"`
	// Meta is written by the server on every version.
	Meta *metaDoc `json:"meta,omitempty"`
} //	@name	Resource

// metaDoc is Resource.meta as the server writes it.
type metaDoc struct {
	// VersionID counts the versions of the resource: 1, 2, 3…
	VersionID string `json:"versionId,omitempty" example:"1"`
	// LastUpdated is when the version was written, in UTC.
	LastUpdated string `json:"lastUpdated,omitempty" example:"2026-03-02T09:15:00.000Z" format:"date-time"`
} //	@name	Meta

// healthStatus is the body of /healthz and /readyz.
type healthStatus struct {
	// Status is ok, or unavailable when the database does not answer.
	Status string `json:"status" example:"ok" enums:"ok,unavailable"`
	// Reason says why the server is not ready.
	Reason string `json:"reason,omitempty" example:"database does not answer"`
} //	@name	HealthStatus

// registerDocs serves the OpenAPI description and the Swagger UI that renders it.
func (s *Server) registerDocs() error {
	ui, err := swaggerUI()
	if err != nil {
		return err
	}
	specJSON := serveSpec("application/json; charset=utf-8", openapi.JSON())
	s.serveGET(s.engine, openAPIJSONPath, endpoint{name: "openapi"}, specJSON)
	s.serveGET(s.engine, openAPIYAMLPath, endpoint{name: "openapi"}, serveSpec("application/yaml; charset=utf-8", openapi.YAML()))
	s.serveGET(s.engine, docsPath, endpoint{name: "docs"}, func(c *gin.Context) { c.Redirect(http.StatusMovedPermanently, docsPath+"/index.html") })
	s.serveGET(s.engine, docsPath+"/*file", endpoint{name: "docs"}, func(c *gin.Context) {
		switch c.Param("file") {
		case "/":
			c.Redirect(http.StatusMovedPermanently, docsPath+"/index.html")
		case "/doc.json":
			// gin-swagger would look the spec up in swag's registry, where this server
			// registers none, and fail with 500: serve the one Swagger UI renders.
			specJSON(c)
		default:
			if c.Request.Method == http.MethodHead {
				// gin-swagger serves GET only. The server still sends no body: it knows the
				// request it was given was a HEAD.
				c.Request = c.Request.Clone(c.Request.Context())
				c.Request.Method = http.MethodGet
			}
			ui(c)
		}
	})
	return nil
}

func serveSpec(contentType string, body []byte) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "no-cache")
		c.Data(http.StatusOK, contentType, body)
	}
}

// swaggerUI serves Swagger UI 5 from the files embedded in github.com/swaggo/files/v2, with
// gin-swagger's page and settings. gin-swagger reads files through a WebDAV file system, so
// the embedded files are copied into an in-memory one once, at startup. Source maps are left
// out: browsers fetch them only for their developer tools.
func swaggerUI() (gin.HandlerFunc, error) {
	mem := webdav.NewMemFS()
	err := fs.WalkDir(swaggerFiles.FS, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(name, ".map") {
			return err
		}
		data, err := fs.ReadFile(swaggerFiles.FS, name)
		if err != nil {
			return err
		}
		return writeMemFile(mem, path.Join("/", name), data)
	})
	if err != nil {
		return nil, err
	}
	handler := &webdav.Handler{FileSystem: mem, LockSystem: webdav.NewMemLS()}
	return ginSwagger.CustomWrapHandler(&ginSwagger.Config{
		URL:                      openAPIJSONPath,
		Title:                    "FHIR server API",
		DocExpansion:             "list",
		DeepLinking:              true,
		DefaultModelsExpandDepth: 1,
		PersistAuthorization:     true,
	}, handler), nil
}

func writeMemFile(mem webdav.FileSystem, name string, data []byte) error {
	ctx := context.Background()
	f, err := mem.OpenFile(ctx, name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o444)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
