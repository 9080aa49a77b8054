package api

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/patient-involvement/fhir-server/internal/auth"
)

// smartConfigPath is where the SMART discovery document is served, at the root and under /fhir.
const smartConfigPath = "/.well-known/smart-configuration"

// devJWKSPath serves the public key of the dev signing key in dev mode, for clients and
// tools that verify the tokens themselves.
const devJWKSPath = "/.well-known/jwks.json"

// discovery is the configured Discovery, with the dev JWKS filled in in dev mode. base is
// the FHIR base URL (ending in /fhir).
func (s *Server) discovery(base string) auth.Discovery {
	d := s.opts.Discovery
	if d.JWKSURI == "" && s.opts.Auth.DevKey() != nil {
		d.JWKSURI = strings.TrimSuffix(base, "/fhir") + devJWKSPath
	}
	if len(d.ResourceTypes) == 0 {
		for _, t := range s.svc.Registry().Types() {
			d.ResourceTypes = append(d.ResourceTypes, t.Name)
		}
	}
	return d
}

// smartConfiguration serves the SMART App Launch discovery document.
//
//	@Summary		SMART configuration
//	@Description	The SMART App Launch discovery document: the authorization server's endpoints, the scopes and capabilities this server supports. Needs no token.
//	@Description	The same document is served under the FHIR base, at /fhir/.well-known/smart-configuration, where SMART clients look for it.
//	@Description	In dev mode jwks_uri names /.well-known/jwks.json; in jwks mode, the authorization server's key set.
//	@ID				smart-configuration
//	@Tags			Server
//	@Produce		json
//	@Param			X-Request-Id	header		string	false	"Id for this request, echoed in the response"
//	@Success		200				{object}	map[string]any	"The discovery document"
//	@Header			all				{string}	X-Request-Id	"The request id: the client's X-Request-Id or one made by the server"
//	@Router			/.well-known/smart-configuration [get]
func (s *Server) smartConfiguration(c *gin.Context) {
	c.JSON(http.StatusOK, auth.SmartConfiguration(s.discovery(s.baseURL(c))))
}

// devJWKS serves the dev signing key's public half as a JWK Set.
//
//	@Summary		Dev mode signing key (JWK Set)
//	@Description	Only in dev mode (FHIR_AUTH=dev, the default when no FHIR_JWT_ISSUER is set): the public half of the key the server signs dev tokens with,
//	@Description	for clients that check tokens themselves. Needs no token. In jwks and off mode the path is not served (404):
//	@Description	tokens are then checked against the authorization server's key set (FHIR_JWKS_URL or FHIR_JWKS_FILE).
//	@ID				jwks
//	@Tags			Server
//	@Produce		application/jwk-set+json
//	@Param			X-Request-Id	header		string	false	"Id for this request, echoed in the response"
//	@Success		200				{object}	map[string]any			"The JWK Set: one ES256 key, its kid the key's RFC 7638 thumbprint"
//	@Failure		404				{object}	fhir.OperationOutcome	"Not in dev mode: the server has no signing key"
//	@Header			all				{string}	X-Request-Id	"The request id: the client's X-Request-Id or one made by the server"
//	@Router			/.well-known/jwks.json [get]
func (s *Server) devJWKS(c *gin.Context) {
	c.Data(http.StatusOK, "application/jwk-set+json", s.opts.Auth.DevKey().JWKS())
}
