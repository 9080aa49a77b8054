package auth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// allowedAlgs are the only signature algorithms accepted: never "none", never HMAC (whose
// "key" an attacker could take from the public key).
var allowedAlgs = []string{"RS256", "ES256", "PS256"}

// minRSABits is the smallest RSA modulus accepted.
const minRSABits = 2048

// loadKeyFile reads a JWK Set (JSON) or PEM public keys and certificates into a key store.
// Keys without a kid (every PEM key) get their RFC 7638 thumbprint as kid.
func loadKeyFile(path string) (jwkset.Storage, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	var keys []any
	var kids []string
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		var set jwkset.JWKSMarshal
		if err := json.Unmarshal(t, &set); err != nil {
			return nil, fmt.Errorf("key file %s: not a JWK Set: %w", path, err)
		}
		for i, m := range set.Keys {
			if m.USE != "" && m.USE != jwkset.UseSig {
				continue
			}
			k, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
			if err != nil {
				if errors.Is(err, jwkset.ErrUnsupportedKey) {
					continue
				}
				return nil, fmt.Errorf("key file %s: key %d: %w", path, i, err)
			}
			keys = append(keys, k.Key())
			kids = append(kids, m.KID)
		}
	} else {
		for rest := data; ; {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			k, err := pemPublicKey(block)
			if err != nil {
				return nil, fmt.Errorf("key file %s: %w", path, err)
			}
			keys = append(keys, k)
			kids = append(kids, "")
		}
	}
	store := jwkset.NewMemoryStorage()
	for i, k := range keys {
		if !usableKey(k) {
			continue
		}
		j, err := newJWK(k, kids[i])
		if err != nil {
			return nil, fmt.Errorf("key file %s: %w", path, err)
		}
		if err := store.KeyWrite(context.Background(), j); err != nil {
			return nil, err
		}
	}
	if all, _ := store.KeyReadAll(context.Background()); len(all) == 0 {
		return nil, fmt.Errorf("key file %s holds no RSA (2048 bits or more) or P-256 public key", path)
	}
	return store, nil
}

// pemPublicKey reads one PEM block holding a public key or a certificate. Private keys are
// refused: this file is for verifying, and a private key has no business on this server.
func pemPublicKey(block *pem.Block) (any, error) {
	switch block.Type {
	case "PUBLIC KEY":
		return x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		return x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		return c.PublicKey, nil
	case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
		return nil, fmt.Errorf("PEM block %q is a private key: give the public key only", block.Type)
	default:
		return nil, fmt.Errorf("PEM block %q is not a public key or certificate", block.Type)
	}
}

// usableKey reports whether k is a public key of a kind this server verifies with.
func usableKey(k any) bool {
	switch k := k.(type) {
	case *rsa.PublicKey:
		return k.N.BitLen() >= minRSABits
	case *ecdsa.PublicKey:
		return k.Curve == elliptic.P256()
	}
	return false
}

// newJWK wraps a public key as a signing JWK with kid, or its thumbprint when kid is empty.
func newJWK(key any, kid string) (jwkset.JWK, error) {
	if kid == "" {
		var err error
		if kid, err = Thumbprint(key); err != nil {
			return jwkset.JWK{}, err
		}
	}
	return jwkset.NewJWKFromKey(key, jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{KID: kid, USE: jwkset.UseSig},
	})
}

// Thumbprint is the RFC 7638 JWK thumbprint (SHA-256, base64url) of an RSA or EC public key:
// the kid this server gives keys that have none.
func Thumbprint(key any) (string, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	var canonical string
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		pt, err := k.Bytes() // uncompressed point: 0x04 || X || Y
		if err != nil {
			return "", err
		}
		canonical = fmt.Sprintf(`{"crv":%q,"kty":"EC","x":%q,"y":%q}`,
			k.Curve.Params().Name, b64(pt[1:1+size]), b64(pt[1+size:]))
	case *rsa.PublicKey:
		e := big64(k.E)
		canonical = fmt.Sprintf(`{"e":%q,"kty":"RSA","n":%q}`, b64(e), b64(k.N.Bytes()))
	default:
		return "", fmt.Errorf("no thumbprint for a %T", key)
	}
	sum := sha256.Sum256([]byte(canonical))
	return b64(sum[:]), nil
}

// big64 is the unsigned big-endian bytes of n with no leading zeros.
func big64(n int) []byte {
	var b []byte
	for ; n > 0; n >>= 8 {
		b = append([]byte{byte(n)}, b...)
	}
	return b
}

// keyFunc chooses the verification key for a token from store by its kid. A token without
// a kid is accepted only when exactly one key could verify it. The key must be a signing key
// whose type (and alg, when the JWK states one) fits the token's algorithm.
func keyFunc(ctx context.Context, store jwkset.Storage) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		alg := t.Method.Alg()
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			all, err := store.KeyReadAll(ctx)
			if err != nil {
				return nil, err
			}
			var fit []any
			for _, j := range all {
				if k, err := verificationKey(j, alg); err == nil {
					fit = append(fit, k)
				}
			}
			if len(fit) != 1 {
				return nil, fmt.Errorf("%w: the token has no kid and %d keys could verify %s", ErrUnknownKey, len(fit), alg)
			}
			return fit[0], nil
		}
		j, err := store.KeyRead(ctx, kid)
		if err != nil {
			return nil, fmt.Errorf("%w: kid %q: %w", ErrUnknownKey, kid, err)
		}
		return verificationKey(j, alg)
	}
}

// verificationKey is the public key of j if it may verify a signature made with alg.
func verificationKey(j jwkset.JWK, alg string) (any, error) {
	m := j.Marshal()
	if m.USE != "" && m.USE != jwkset.UseSig {
		return nil, fmt.Errorf("%w: key %q is for %q, not signatures", ErrUnknownKey, m.KID, m.USE)
	}
	if m.ALG != "" && m.ALG.String() != alg {
		return nil, fmt.Errorf("%w: key %q is for %s, the token is %s", ErrUnknownKey, m.KID, m.ALG, alg)
	}
	key := j.Key()
	if pk, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		key = pk.Public()
	}
	fits := false
	switch k := key.(type) {
	case *rsa.PublicKey:
		fits = (alg == "RS256" || alg == "PS256") && k.N.BitLen() >= minRSABits
	case *ecdsa.PublicKey:
		fits = alg == "ES256" && k.Curve == elliptic.P256()
	}
	if !fits {
		return nil, fmt.Errorf("%w: key %q (%T) cannot verify %s", ErrUnknownKey, m.KID, key, alg)
	}
	return key, nil
}
