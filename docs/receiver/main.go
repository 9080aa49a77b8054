// Command receiver is the smallest care team's system for trying subscriptions locally: it
// answers every POST with 200 and prints what arrived (the subscription's headers and the
// body). See README.md, "Notifications to the care team".
//
//	go run ./docs/receiver            # listens on 127.0.0.1:9999
package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
)

func main() {
	addr := "127.0.0.1:9999"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	log.Printf("receiving notifications at http://%s/", addr)
	log.Fatal(http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		fmt.Printf("%s %s subscription=%s event=%s handshake=%s\n%s\n\n", r.Method, r.URL.Path,
			r.Header.Get("X-Subscription-Id"), r.Header.Get("X-Subscription-Event-Number"),
			r.Header.Get("X-Subscription-Handshake"), body)
	})))
}
