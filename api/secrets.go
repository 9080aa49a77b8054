package api

import (
	"bytes"
	"encoding/json"

	"github.com/gin-gonic/gin"
)

// A Subscription's channel.header carries its receiver's secret. Every JSON body the API
// answers passes maskSecrets, which leaves the header values to those who may read them
// (the Subscription's creator and system/ tokens) and masks them for every other caller,
// whatever the path: read, vread, history, search, a write's answer, a Bundle's entries
// (each masked by the entry's own request, and the batch or transaction answer not again).

const secretsKey = "fhir.secrets"

var (
	subscriptionMark = []byte(`"Subscription"`)
	headerMark       = []byte(`"header"`)
)

// maskSecrets returns body with the channel.header values the caller may not read masked;
// a body that holds no Subscription header is returned as it is.
func maskSecrets(c *gin.Context, body []byte) []byte {
	p := principal(c)
	v, ok := c.Get(secretsKey)
	if p == nil || !ok || !bytes.Contains(body, subscriptionMark) || !bytes.Contains(body, headerMark) {
		return body
	}
	secrets, _ := v.(HeaderSecrets)
	if secrets == nil {
		return body
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil || !secrets.MaskHeaders(tree, p) {
		return body
	}
	out, err := marshalJSON(tree)
	if err != nil {
		return body
	}
	return out
}
