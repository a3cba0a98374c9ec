package gitops

import (
	_ "github.com/fluxcd/pkg/runtime/cel"
	_ "github.com/yuin/gopher-lua"
	_ "sigs.k8s.io/cli-utils/pkg/kstatus/status"
)
