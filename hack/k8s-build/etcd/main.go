// etcd for the local cluster: the server module's own entry point (what etcd's main.go runs),
// at the version this module's Kubernetes release requires.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
