// The entry point every probe shares: `PROBE REQUEST.json RESULT.json`. Each probe provides
// `run(requestPath string) result`; its result is written as JSON, and Argo's own logs keep stdout
// and stderr, which the harness keeps as evidence.
package main

import (
	"encoding/json"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintf(os.Stderr, "usage: %s REQUEST.json RESULT.json\n", os.Args[0])
		os.Exit(2)
	}
	out, _ := json.Marshal(run(os.Args[1]))
	if err := os.WriteFile(os.Args[2], out, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, "write result:", err)
		os.Exit(2)
	}
}
