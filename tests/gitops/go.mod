module readygate/tests/gitops

go 1.26.8

require (
	github.com/fluxcd/pkg/runtime v0.117.0 // indirect
	github.com/yuin/gopher-lua v1.1.2 // indirect
	sigs.k8s.io/cli-utils v0.37.2 // indirect
)
