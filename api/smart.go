package api

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/patient-involvement/fhir-server/internal/auth"
)

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
func (s *Server) devJWKS(c *gin.Context) {
	c.Data(http.StatusOK, "application/jwk-set+json", s.opts.Auth.DevKey().JWKS())
}
