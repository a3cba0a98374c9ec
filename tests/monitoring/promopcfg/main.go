// Command promopcfg prints the Prometheus configuration that the Prometheus Operator generates
// for a Prometheus resource and the ServiceMonitors it selects, using the operator's own
// generator: github.com/prometheus-operator/prometheus-operator pkg/prometheus (promcfg.go),
// NewConfigGenerator and ConfigGenerator.GenerateServerConfiguration, called as
// pkg/prometheus/server/operator.go (Operator.createOrUpdateConfigurationSecret) calls them.
//
//	promopcfg [-envsubst] PROMETHEUS.yaml SERVICEMONITOR.yaml...
//
// Each file holds one object as a user applies it (the API server's defaults for omitted fields
// must be written out: scrapeInterval and evaluationInterval of the Prometheus). No cluster is
// contacted. Without -envsubst the output is what the operator stores, gzipped, in the Secret
// prometheus-<name>; with it, what the Prometheus container reads: the operator's
// prometheus-config-reloader replaces each $(VAR) with the environment variable VAR (SHARD,
// POD_NAME, ...), failing on an unset one, as thanos-io/thanos pkg/reloader (Reloader.expandEnv)
// does; envRe below is its pattern.
//
// tests/e2e/promoperator.py builds and runs it (tests/monitoring/gotools.py builds it).
package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus-operator/prometheus-operator/pkg/assets"
	prompkg "github.com/prometheus-operator/prometheus-operator/pkg/prometheus"
	"sigs.k8s.io/yaml"
)

var envRe = regexp.MustCompile(`\$\(([a-zA-Z_0-9]+)\)`)

func expandEnv(b []byte) []byte {
	return envRe.ReplaceAllFunc(b, func(n []byte) []byte {
		name := string(n[2 : len(n)-1])
		v, ok := os.LookupEnv(name)
		if !ok {
			fail(fmt.Errorf("found reference to unset environment variable %q", name))
		}
		return []byte(v)
	})
}

func load(path string, into any) {
	data, err := os.ReadFile(path)
	if err != nil {
		fail(err)
	}
	if err := yaml.UnmarshalStrict(data, into); err != nil {
		fail(fmt.Errorf("%s: %w", path, err))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "promopcfg:", err)
	os.Exit(1)
}

func main() {
	envsubst := flag.Bool("envsubst", false, "expand $(VAR) as prometheus-config-reloader does")
	flag.Parse()
	if flag.NArg() < 2 {
		fail(fmt.Errorf("usage: promopcfg [-envsubst] PROMETHEUS.yaml SERVICEMONITOR.yaml..."))
	}
	prom := &monitoringv1.Prometheus{}
	load(flag.Arg(0), prom)
	sMons := map[string]*monitoringv1.ServiceMonitor{}
	for _, path := range flag.Args()[1:] {
		sm := &monitoringv1.ServiceMonitor{}
		load(path, sm)
		sMons[sm.Namespace+"/"+sm.Name] = sm
	}
	// The operator adds WithEndpointSliceSupport() when the cluster serves EndpointSlices; it
	// only matters with serviceDiscoveryRole: EndpointSlice (the default role is endpoints).
	cg, err := prompkg.NewConfigGenerator(nil, prom)
	if err != nil {
		fail(err)
	}
	conf, err := cg.GenerateServerConfiguration(
		prom, sMons, nil, nil, nil, assets.NewTestStoreBuilder(), nil, nil, nil, nil)
	if err != nil {
		fail(err)
	}
	if *envsubst {
		conf = expandEnv(conf)
	}
	if _, err := os.Stdout.Write(conf); err != nil {
		fail(err)
	}
}
