package auth

// Discovery is what the server tells clients about its authorization server, for
// /.well-known/smart-configuration and the CapabilityStatement. Empty fields are left out.
type Discovery struct {
	// Issuer is the "iss" of the tokens the server accepts.
	Issuer string
	// JWKSURI is where the token-signing keys are: the authorization server's JWKS URL in
	// jwks mode, the server's own dev JWKS (DevKey.JWKS) in dev mode.
	JWKSURI string
	// AuthorizeURL, TokenURL, RegistrationURL, ManagementURL, IntrospectionURL and
	// RevocationURL are the authorization server's endpoints.
	AuthorizeURL     string
	TokenURL         string
	RegistrationURL  string
	ManagementURL    string
	IntrospectionURL string
	RevocationURL    string
	// ResourceTypes are the served types, listed in scopes_supported.
	ResourceTypes []string
}

// SmartConfiguration is the SMART App Launch discovery document
// (/.well-known/smart-configuration). It always states the permission capabilities this
// server enforces (v1 and v2 scopes, patient and user context), and the two lists SMART 2
// requires, grant_types_supported and code_challenge_methods_supported, filled only with
// what the configured endpoints offer: authorization_code (with S256 PKCE, the launch and
// client capabilities, response type code) needs both an authorization and a token
// endpoint, client_credentials a token endpoint. Without them (dev mode) both lists are
// empty, since there is no OAuth flow: tokens come from `fhir-server token`.
func SmartConfiguration(d Discovery) map[string]any {
	grants, pkce := []string{}, []string{}
	doc := map[string]any{"scopes_supported": scopesSupported(d.ResourceTypes)}
	caps := []string{"permission-v1", "permission-v2", "permission-patient", "permission-user"}
	if d.AuthorizeURL != "" && d.TokenURL != "" {
		caps = append([]string{"launch-standalone", "client-public", "client-confidential-symmetric", "context-standalone-patient"}, caps...)
		grants = append(grants, "authorization_code")
		pkce = append(pkce, "S256")
		doc["response_types_supported"] = []string{"code"}
	}
	if d.TokenURL != "" {
		grants = append(grants, "client_credentials")
		doc["token_endpoint_auth_methods_supported"] = []string{"client_secret_basic"}
	}
	doc["grant_types_supported"] = grants
	doc["code_challenge_methods_supported"] = pkce
	doc["capabilities"] = caps
	for key, v := range map[string]string{
		"issuer":                 d.Issuer,
		"jwks_uri":               d.JWKSURI,
		"authorization_endpoint": d.AuthorizeURL,
		"token_endpoint":         d.TokenURL,
		"registration_endpoint":  d.RegistrationURL,
		"management_endpoint":    d.ManagementURL,
		"introspection_endpoint": d.IntrospectionURL,
		"revocation_endpoint":    d.RevocationURL,
	} {
		if v != "" {
			doc[key] = v
		}
	}
	return doc
}

// scopesSupported lists the identity and launch scopes and, for every context, the wildcard
// and per-type resource scopes.
func scopesSupported(types []string) []string {
	out := []string{"openid", "fhirUser", "launch/patient", "offline_access", "online_access"}
	for _, ctx := range []Context{ContextPatient, ContextUser, ContextSystem} {
		out = append(out, string(ctx)+"/*.cruds", string(ctx)+"/*.*", string(ctx)+"/*.read", string(ctx)+"/*.rs")
		for _, t := range types {
			switch {
			case t != "AuditEvent":
				out = append(out, string(ctx)+"/"+t+".cruds")
			case ctx != ContextPatient:
				// The audit trail is read and searched, never written, and not by patients.
				out = append(out, string(ctx)+"/"+t+".rs")
			}
		}
	}
	return out
}

// The SMART code in the CapabilityStatement's rest.security.service, and the extension that
// names the OAuth endpoints.
const (
	securityServiceSystem = "http://terminology.hl7.org/CodeSystem/restful-security-service"
	oauthURIsExtension    = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
)

// CapabilitySecurity is the CapabilityStatement's rest.security: whether CORS is on (cors), the
// service SMART-on-FHIR, and the oauth-uris extension listing the configured endpoints (token,
// authorize, register, manage, introspect, revoke). Leave it out of the statement in mode off.
func CapabilitySecurity(d Discovery, cors bool) map[string]any {
	sec := map[string]any{
		"cors": cors,
		"service": []any{map[string]any{
			"coding": []any{map[string]any{
				"system": securityServiceSystem, "code": "SMART-on-FHIR", "display": "SMART-on-FHIR",
			}},
			"text": "OAuth2 bearer tokens with SMART App Launch scopes",
		}},
		"description": "Every request to the FHIR API needs a bearer token (JWT) with SMART scopes; " +
			"see /.well-known/smart-configuration.",
	}
	var uris []any
	for _, e := range []struct{ name, url string }{
		{"token", d.TokenURL}, {"authorize", d.AuthorizeURL}, {"register", d.RegistrationURL},
		{"manage", d.ManagementURL}, {"introspect", d.IntrospectionURL}, {"revoke", d.RevocationURL},
	} {
		if e.url != "" {
			uris = append(uris, map[string]any{"url": e.name, "valueUri": e.url})
		}
	}
	if len(uris) > 0 {
		sec["extension"] = []any{map[string]any{"url": oauthURIsExtension, "extension": uris}}
	}
	return sec
}
