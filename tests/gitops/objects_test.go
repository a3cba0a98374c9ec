// Package gitops checks readygate's GitOps health claims with the client libraries the GitOps
// tools run, on ReadinessCheck objects captured from a real cluster (tests/gitops/capture.py
// writes them to manifests/gitops/argocd/testdata/):
//
//   - kstatus_test.go: sigs.k8s.io/cli-utils kstatus (status.Compute), and the fork Flux runs for
//     `wait: true` / `healthChecks` (github.com/fluxcd/cli-utils, its default status reader);
//   - flux_test.go: the shipped `healthCheckExprs` (manifests/gitops/flux/
//     checks-healthcheckexprs.yaml) through github.com/fluxcd/pkg/runtime/cel, built the way
//     kustomize-controller builds it (cel.NewStatusReader);
//   - argocd_test.go: manifests/gitops/argocd/health.lua (as argocd-cm.yaml installs it) in
//     gopher-lua, the Lua Argo CD embeds, with the libraries Argo CD opens for health scripts.
//
// The expectations are the table below, one row per captured object.
package gitops

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

var (
	root     = filepath.Join("..", "..")
	argocd   = filepath.Join(root, "manifests", "gitops", "argocd")
	testdata = filepath.Join(argocd, "testdata")
	flux     = filepath.Join(root, "manifests", "gitops", "flux")
)

// What each tool must make of each captured object. kstatus is what plain kstatus (and so Flux
// `wait: true` and `healthChecks`) reports; exprs what the healthCheckExprs recipe reports
// through Flux's CEL status reader; argo the health Argo CD shows (health.lua's hs.status).
type want struct {
	file    string
	kstatus string
	exprs   string
	argo    string
}

var table = []want{
	// created, before the operator wrote anything: plain kstatus calls it Current (nothing says
	// otherwise), the early window `wait: true` has. The CEL expressions cannot be evaluated on
	// an object without `status` (no such variable): Flux's reader says Unknown, not Current.
	{"no-status", "Current", "Unknown", "Progressing"},
	// the operator's first write: phase Deploying, Reconciling=True, Ready=Unknown
	{"first-write", "InProgress", "InProgress", "Progressing"},
	{"verifying", "InProgress", "InProgress", "Progressing"},
	// verdicts: Passed and Conditional are Ready=True; the rest Stalled=True, Ready=False
	{"passed", "Current", "Current", "Healthy"},
	{"conditional", "Current", "Current", "Healthy"},
	{"failed-crash-at-import", "Failed", "Failed", "Degraded"},
	{"failed-never-ready", "Failed", "Failed", "Degraded"},
	{"failed-missing-image", "Failed", "Failed", "Degraded"},
	{"failed-flapping-liveness", "Failed", "Failed", "Degraded"},
	{"error-missing-deployment", "Failed", "Failed", "Degraded"},
	{"inconclusive-too-few-samples", "Failed", "Failed", "Degraded"},
	// a new generation not observed yet: the old verdict's Ready=True (or Stalled=True) still
	// stands, observedGeneration is behind metadata.generation
	{"generation-not-observed", "InProgress", "InProgress", "Progressing"},
	{"generation-not-observed-after-error", "InProgress", "InProgress", "Progressing"},
	// the first write for that generation: Reconciling=True again
	{"new-generation-running", "InProgress", "InProgress", "Progressing"},
	// deleted, held by readygate's finalizer (the API server bumped metadata.generation when
	// it set deletionTimestamp, and no operator observes that generation)
	{"terminating", "Terminating", "InProgress", "Progressing"},
}

// load reads a captured object the way a controller receives it from the API server: JSON
// decoded into unstructured content, integers as int64.
func load(t *testing.T, file string) *unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testdata, file+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(js); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if u.GetAPIVersion() != "readygate.io/v1alpha1" || u.GetKind() != "ReadinessCheck" {
		t.Fatalf("%s: %s %s is not a ReadinessCheck", file, u.GetAPIVersion(), u.GetKind())
	}
	return u
}

func condition(u *unstructured.Unstructured, ctype string) map[string]any {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == ctype {
			return m
		}
	}
	return nil
}

// The table covers every captured object, and each object is in the state its row claims.
func TestTableCoversTheCapturedObjects(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testdata, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]bool{}
	for _, w := range table {
		rows[w.file+".yaml"] = true
	}
	for _, f := range files {
		if !rows[filepath.Base(f)] {
			t.Errorf("%s has no row in the table", filepath.Base(f))
		}
	}
	if len(files) != len(table) {
		t.Errorf("%d objects in %s, %d rows", len(files), testdata, len(table))
	}
	for _, w := range table {
		u := load(t, w.file)
		gen := u.GetGeneration()
		observed, hasStatus, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
		phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
		ready := condition(u, "Ready")
		switch w.file {
		case "no-status":
			if _, ok := u.Object["status"]; ok {
				t.Errorf("%s: has a status", w.file)
			}
		case "first-write", "verifying", "new-generation-running":
			if r := condition(u, "Reconciling"); r == nil || r["status"] != "True" || observed != gen {
				t.Errorf("%s: not a running, observed generation", w.file)
			}
		case "generation-not-observed", "generation-not-observed-after-error":
			if !hasStatus || observed >= gen {
				t.Errorf("%s: generation %d, observed %d", w.file, gen, observed)
			}
		case "terminating":
			if u.GetDeletionTimestamp() == nil || len(u.GetFinalizers()) == 0 {
				t.Errorf("%s: not terminating behind a finalizer", w.file)
			}
		default:
			terminal := map[string]bool{"Passed": true, "Failed": true, "Error": true,
				"Inconclusive": true}
			if observed != gen || !terminal[phase] || ready == nil || ready["status"] == "Unknown" {
				t.Errorf("%s: no verdict for generation %d (phase %q)", w.file, gen, phase)
			}
		}
	}
}
