// etcd for local-up's control plane and the kind node's etcd image, built from etcd's own module:
// server/v3's main package is not importable, so this calls etcdmain.Main exactly as server/main.go does.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
