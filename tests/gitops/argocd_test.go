package gitops

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

const cmKey = "resource.customizations.health.readygate.io_ReadinessCheck"

// Argo CD runs resource health scripts in gopher-lua (util/lua/lua.go, VM.runLua), and so do
// we, the same way:
//   - lua.NewState with SkipOpenLibs (Argo CD opens all libraries only when the resource's
//     `resource.customizations.useOpenLibs.<group>_<kind>` is set; we do not ask for that);
//   - then, each called with its library name, exactly these openers: package (require),
//     base, table, and Argo CD's "safe os" (only os.time and os.date). Argo CD's safe-os opener
//     registers its functions under the *table* library's name, which is already loaded, so it
//     adds nothing: there is no global `os`; the two functions are reachable only through
//     `require("os")`, which Argo CD preloads. Not opened: string, math, io, the full os,
//     coroutine, channel, debug. health.lua needs none of them (TestArgoSandbox pins this);
//   - the object as the global `obj`, converted like Argo CD's decodeValue (integers become
//     numbers), a one-second context, and hs.status / hs.message read from the returned table,
//     an unknown status turning into Unknown "Lua returned an invalid health status".
//
// The os.time and os.date given here are gopher-lua's own: same names as Argo CD's, neither
// is used by health.lua.
func argoState() (*lua.LState, context.CancelFunc) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	safeOs := safeOsFuncs()
	openSafeOs := func(l *lua.LState) int { // as Argo CD's OpenSafeOs: under the table name
		l.Push(l.RegisterModule(lua.TabLibName, safeOs))
		return 1
	}
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.OsLibName, openSafeOs},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true},
			lua.LString(lib.name)); err != nil {
			panic(err)
		}
	}
	l.PreloadModule(lua.OsLibName, func(l *lua.LState) int {
		l.Push(l.SetFuncs(l.NewTable(), safeOs))
		return 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	l.SetContext(ctx)
	return l, cancel
}

// os.time and os.date, taken from gopher-lua's os library opened in a throwaway state.
func safeOsFuncs() map[string]lua.LGFunction {
	scratch := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer scratch.Close()
	scratch.Push(scratch.NewFunction(lua.OpenOs))
	scratch.Call(0, 1)
	mod := scratch.Get(-1).(*lua.LTable)
	funcs := map[string]lua.LGFunction{}
	for _, name := range []string{"time", "date"} {
		funcs[name] = mod.RawGetString(name).(*lua.LFunction).GFunction
	}
	return funcs
}

// toLua converts unstructured content like Argo CD's decodeValue.
func toLua(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []any:
		t := l.CreateTable(len(v), 0)
		for _, item := range v {
			t.Append(toLua(l, item))
		}
		return t
	case map[string]any:
		t := l.CreateTable(0, len(v))
		for k, item := range v {
			t.RawSetH(lua.LString(k), toLua(l, item))
		}
		return t
	}
	return lua.LNil
}

type health struct{ Status, Message string }

var validHealth = map[string]bool{"Healthy": true, "Progressing": true, "Degraded": true,
	"Suspended": true, "Missing": true, "Unknown": true}

func runHealth(script string, obj map[string]any) (health, error) {
	l, cancel := argoState()
	defer cancel()
	defer l.Close()
	l.SetGlobal("obj", toLua(l, obj))
	fn, err := l.LoadString(script)
	if err != nil {
		return health{}, err
	}
	l.Push(fn)
	if err := l.PCall(0, lua.MultRet, nil); err != nil {
		return health{}, err
	}
	hs, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return health{}, fmt.Errorf("expect table output from Lua script, not %s", l.Get(-1).Type())
	}
	h := health{Status: lua.LVAsString(hs.RawGetString("status")),
		Message: lua.LVAsString(hs.RawGetString("message"))}
	if !validHealth[h.Status] {
		return health{"Unknown", "Lua returned an invalid health status"}, nil
	}
	return h, nil
}

// The script Argo CD runs: the argocd-cm key, which must be health.lua verbatim.
func installedScript(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(argocd, "argocd-cm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cm struct{ Data map[string]string }
	if err := yaml.Unmarshal(data, &cm); err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join(argocd, "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data[cmKey] != string(script) {
		t.Fatalf("argocd-cm.yaml %s is not health.lua verbatim", cmKey)
	}
	return cm.Data[cmKey]
}

func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// The message Argo CD shows is readygate's own: the condition that decided, or a fixed text
// for the states without one.
func wantMessage(u *unstructured.Unstructured, argo string) string {
	gen := u.GetGeneration()
	switch {
	case u.GetDeletionTimestamp() != nil:
		return "Pending deletion"
	case u.Object["status"] == nil:
		return "Waiting for readygate to start the check"
	case observedGeneration(u) != gen:
		return fmt.Sprintf("Waiting for readygate to observe generation %d", gen)
	case argo == "Progressing":
		return str(condition(u, "Reconciling"), "message")
	case argo == "Degraded":
		return str(condition(u, "Stalled"), "message")
	}
	status := u.Object["status"].(map[string]any)
	if status["verdict"] == "Conditional" {
		var warnings []string
		for _, w := range status["warnings"].([]any) {
			warnings = append(warnings, w.(string))
		}
		return "Conditional: passed with warnings: " + strings.Join(warnings, "; ")
	}
	return str(condition(u, "Ready"), "message")
}

func TestArgoHealthLua(t *testing.T) {
	script := installedScript(t)
	for _, w := range table {
		t.Run(w.file, func(t *testing.T) {
			u := load(t, w.file)
			h, err := runHealth(script, u.Object)
			if err != nil {
				t.Fatal(err)
			}
			if h.Status != w.argo {
				t.Fatalf("health %s (%q), want %s", h.Status, h.Message, w.argo)
			}
			if want := wantMessage(u, w.argo); h.Message != want || want == "" {
				t.Fatalf("message %q, want %q", h.Message, want)
			}
		})
	}
}

// Argo CD's own test layout (health_test.yaml beside the script), run in gopher-lua.
func TestArgoHealthTestYaml(t *testing.T) {
	script := installedScript(t)
	data, err := os.ReadFile(filepath.Join(argocd, "health_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cases struct {
		Tests []struct {
			HealthStatus health `json:"healthStatus"`
			InputPath    string `json:"inputPath"`
		}
	}
	if err := yaml.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases.Tests) != len(table) {
		t.Errorf("health_test.yaml has %d cases for %d objects", len(cases.Tests), len(table))
	}
	for _, c := range cases.Tests {
		t.Run(c.InputPath, func(t *testing.T) {
			u := load(t, strings.TrimSuffix(filepath.Base(c.InputPath), ".yaml"))
			h, err := runHealth(script, u.Object)
			if err != nil {
				t.Fatal(err)
			}
			if h != c.HealthStatus {
				t.Fatalf("got %+v, health_test.yaml says %+v", h, c.HealthStatus)
			}
		})
	}
}

// The libraries the state above opens are Argo CD's, no more: a script using string, math,
// io or the global os fails there, and so it does here.
func TestArgoSandbox(t *testing.T) {
	probe := `
local osmod = require("os")
local t = {}
for _, name in ipairs({"string", "math", "io", "os", "coroutine", "debug", "channel"}) do
  if _G[name] ~= nil then table.insert(t, name) end
end
for _, name in ipairs({"execute", "remove", "rename", "exit", "getenv", "tmpname"}) do
  if osmod[name] ~= nil then table.insert(t, "os." .. name) end
end
if table.time ~= nil or table.date ~= nil then table.insert(t, "table.time/date") end
if type(osmod.time) ~= "function" or type(osmod.date) ~= "function" then
  table.insert(t, "no os.time/os.date")
end
return {status = "Healthy", message = table.concat(t, ",")}`
	h, err := runHealth(probe, map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	if h.Message != "" {
		t.Fatalf("opened beyond Argo CD's health libraries: %s", h.Message)
	}
	if _, err := runHealth(`return {status = string.upper("healthy")}`, nil); err == nil {
		t.Fatal("string is opened")
	}
	if h, _ := runHealth(`return {status = "Fine"}`, nil); h.Status != "Unknown" {
		t.Fatalf("an invalid status gives %+v", h)
	}
	if _, err := runHealth(`while true do end`, nil); err == nil {
		t.Fatal("no time limit")
	}
}
