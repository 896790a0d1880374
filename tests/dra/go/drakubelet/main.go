// SPDX-License-Identifier: Apache-2.0

// A kubelet stand-in written with grpc-go (Debian's golang-google-grpc-dev), the gRPC
// implementation the real kubelet uses, driving tests/dra/dra_test_plugin: the plugin watcher's
// registration (GetInfo checked as the kubelet checks it, NotifyRegistrationStatus), then
// NodePrepareResources and NodeUnprepareResources over v1 and v1beta1 with several claims, a
// repeated Prepare, Unprepare of unknown claims, per-claim errors (no allocation, a device gone,
// a claim without uid), a kubelet restart (registration again) and a malformed request. No
// kubelet can run here; like the kubelet, it dials Unix sockets with a custom dialer.
//
// Usage: drakubelet -plugin PATH -fixture FILE. Exit status 0 when every step passed.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/ioutil"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"hostdev.test/draapi"
)

const driver = "vfio.hostdev.test"

// waitLimit bounds every wait for an event, generously: a loaded machine is not a failure.
var waitLimit = func() time.Duration {
	limit := 30 * time.Second
	if f, err := strconv.ParseFloat(os.Getenv("HOSTDEV_TEST_TIMEOUT_SCALE"), 64); err == nil && f > 0 {
		limit = time.Duration(float64(limit) * f)
	}
	return limit
}()

var failures int

func check(ok bool, format string, args ...interface{}) {
	if !ok {
		failures++
		fmt.Printf("FAIL: "+format+"\n", args...)
	}
}

var (
	tempRoot  string
	pluginCmd *exec.Cmd
)

func exit(code int) {
	if pluginCmd != nil && pluginCmd.ProcessState == nil {
		pluginCmd.Process.Kill()
		pluginCmd.Wait()
	}
	if tempRoot != "" {
		os.RemoveAll(tempRoot)
	}
	os.Exit(code)
}

func must(err error, what string) {
	if err != nil {
		fmt.Printf("FAIL: %s: %v\n", what, err)
		exit(1)
	}
}

func dial(path string) *grpc.ClientConn {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	conn, err := grpc.DialContext(ctx, path, grpc.WithInsecure(), grpc.WithBlock(),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", addr)
		}))
	must(err, "dial "+path)
	return conn
}

// plugin is dra_test_plugin: its stdout lines and its stdin.
type plugin struct {
	stdin io.WriteCloser
	lines chan string
}

func (p *plugin) waitLine(prefix string) string {
	deadline := time.After(waitLimit)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				must(fmt.Errorf("exited"), "dra_test_plugin before "+prefix)
			}
			if strings.HasPrefix(line, prefix) {
				return line
			}
		case <-deadline:
			must(fmt.Errorf("no line %q in %v", prefix, waitLimit), "dra_test_plugin")
		}
	}
}

func (p *plugin) command(text, answer string) string {
	_, err := io.WriteString(p.stdin, text+"\n")
	must(err, "command "+text)
	return p.waitLine(answer)
}

// kubelet is the stand-in: the registration and the DRA calls of one kubelet run.
type kubelet struct {
	conn *grpc.ClientConn
	api  string
}

// register does what the plugin watcher does with a socket it finds in plugins_registry.
func register(regPath string) (*kubelet, *draapi.PluginInfo) {
	conn := dial(regPath)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	info := &draapi.PluginInfo{}
	must(conn.Invoke(ctx, "/pluginregistration.Registration/GetInfo", &draapi.InfoRequest{}, info), "GetInfo")
	problem := ""
	var api string
	for _, v := range info.SupportedVersions {
		if v == "v1.DRAPlugin" || (v == "v1beta1.DRAPlugin" && api == "") {
			api = strings.TrimSuffix(v, ".DRAPlugin")
		}
	}
	if fi, err := os.Stat(info.Endpoint); info.Type != "DRAPlugin" {
		problem = "type " + info.Type + " is not handled"
	} else if info.Name != driver {
		problem = "name " + info.Name + " is not the driver"
	} else if err != nil || fi.Mode()&os.ModeSocket == 0 {
		problem = "endpoint " + info.Endpoint + " is not a socket"
	} else if api == "" {
		problem = fmt.Sprintf("no supported version in %v", info.SupportedVersions)
	}
	must(conn.Invoke(ctx, "/pluginregistration.Registration/NotifyRegistrationStatus",
		&draapi.RegistrationStatus{PluginRegistered: problem == "", Error: problem},
		&draapi.RegistrationStatusResponse{}), "NotifyRegistrationStatus")
	check(problem == "", "registration refused: %s", problem)
	return &kubelet{conn: dial(info.Endpoint), api: api}, info
}

func claims(list ...[3]string) *draapi.ClaimsRequest {
	req := &draapi.ClaimsRequest{}
	for _, c := range list {
		req.Claims = append(req.Claims, &draapi.Claim{Namespace: c[0], Name: c[1], UID: c[2]})
	}
	return req
}

func (k *kubelet) prepare(api string, req *draapi.ClaimsRequest) *draapi.NodePrepareResourcesResponse {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	resp := &draapi.NodePrepareResourcesResponse{}
	must(k.conn.Invoke(ctx, "/k8s.io.kubelet.pkg.apis.dra."+api+".DRAPlugin/NodePrepareResources",
		req, resp), "NodePrepareResources "+api)
	for _, c := range req.Claims {
		_, ok := resp.Claims[c.UID]
		check(ok, "%s Prepare: no answer for claim %s", api, c.UID)
	}
	return resp
}

func (k *kubelet) unprepare(api string, req *draapi.ClaimsRequest) map[string]string {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	resp := &draapi.NodeUnprepareResourcesResponse{}
	must(k.conn.Invoke(ctx, "/k8s.io.kubelet.pkg.apis.dra."+api+".DRAPlugin/NodeUnprepareResources",
		req, resp), "NodeUnprepareResources "+api)
	errs := map[string]string{}
	for uid, r := range resp.Claims {
		errs[uid] = r.Error
	}
	for _, c := range req.Claims {
		_, ok := errs[c.UID]
		check(ok, "%s Unprepare: no answer for claim %s", api, c.UID)
	}
	return errs
}

type fixtureDevice struct {
	Pool     string   `json:"pool"`
	Device   string   `json:"device"`
	Requests []string `json:"requests"`
	Group    string   `json:"group"`
	Cdev     *int     `json:"cdev"`
}

type fixtureClaim struct {
	Devices []fixtureDevice `json:"devices"`
	Error   string          `json:"error"`
}

var (
	nic     = [3]string{"default", "vm-nic", "0b9e6a52-1111-4c1e-9f00-000000000001"}
	gpu     = [3]string{"tenant-a", "vm-gpu", "0b9e6a52-2222-4c1e-9f00-000000000002"}
	slow    = [3]string{"default", "vm-slow", "0b9e6a52-3333-4c1e-9f00-000000000003"}
	gone    = [3]string{"default", "vm-gone", "0b9e6a52-4444-4c1e-9f00-000000000004"}
	unknown = [3]string{"default", "vm-other", "0b9e6a52-9999-4c1e-9f00-000000000009"}
)

// checkPrepared compares the answer for @c with the fixture and the CDI spec written for it.
func checkPrepared(api string, resp *draapi.NodePrepareResourcesResponse, c [3]string, want fixtureClaim, cdiDir string) {
	got := resp.Claims[c[2]]
	if got == nil {
		return
	}
	check(got.Error == "", "%s: claim %s failed: %s", api, c[2], got.Error)
	check(len(got.Devices) == len(want.Devices), "%s: claim %s: %d devices, want %d", api, c[2],
		len(got.Devices), len(want.Devices))
	data, err := ioutil.ReadFile(filepath.Join(cdiDir, driver+"-"+c[2]+".json"))
	check(err == nil, "%s: claim %s: no CDI spec: %v", api, c[2], err)
	var spec struct {
		CDIVersion string `json:"cdiVersion"`
		Kind       string `json:"kind"`
		Devices    []struct {
			Name           string `json:"name"`
			ContainerEdits struct {
				DeviceNodes []struct {
					Path string `json:"path"`
				} `json:"deviceNodes"`
			} `json:"containerEdits"`
		} `json:"devices"`
	}
	check(json.Unmarshal(data, &spec) == nil, "%s: claim %s: CDI spec is not JSON", api, c[2])
	check(spec.Kind == driver+"/pci", "%s: CDI kind %q", api, spec.Kind)
	for i, d := range got.Devices {
		if i >= len(want.Devices) {
			break
		}
		w := want.Devices[i]
		name := c[2] + "-" + w.Device
		check(d.PoolName == w.Pool && d.DeviceName == w.Device, "%s: device %d is %s/%s, want %s/%s",
			api, i, d.PoolName, d.DeviceName, w.Pool, w.Device)
		check(reflect.DeepEqual(d.RequestNames, w.Requests), "%s: device %s requests %v, want %v",
			api, w.Device, d.RequestNames, w.Requests)
		wantIDs := []string{driver + "/pci=" + name}
		for _, r := range w.Requests {
			wantIDs = append(wantIDs, driver+"/metadata="+c[2]+"_"+r)
		}
		check(reflect.DeepEqual(d.CDIDeviceIDs, wantIDs), "%s: device %s CDI ids %v, want %v", api,
			w.Device, d.CDIDeviceIDs, wantIDs)
		nodes := []string{"/dev/vfio/vfio", "/dev/vfio/" + w.Group}
		if w.Cdev != nil {
			nodes = append(nodes, "/dev/iommu", fmt.Sprintf("/dev/vfio/devices/vfio%d", *w.Cdev))
		}
		found := false
		for _, sd := range spec.Devices {
			if sd.Name == name {
				found = true
				var paths []string
				for _, n := range sd.ContainerEdits.DeviceNodes {
					paths = append(paths, n.Path)
				}
				check(reflect.DeepEqual(paths, nodes), "%s: CDI device %s nodes %v, want %v", api, name, paths, nodes)
			}
		}
		check(found, "%s: CDI device %s not in the spec", api, name)
	}
}

func main() {
	pluginPath := flag.String("plugin", "", "dra_test_plugin")
	fixturePath := flag.String("fixture", "", "fixture.json")
	flag.Parse()
	data, err := ioutil.ReadFile(*fixturePath)
	must(err, "fixture")
	var fixture struct {
		Claims map[string]fixtureClaim `json:"claims"`
	}
	must(json.Unmarshal(data, &fixture), "fixture")

	tempRoot, err = ioutil.TempDir("", "drakubelet")
	must(err, "temporary root")
	pluginDir := filepath.Join(tempRoot, "plugins")
	registryDir := filepath.Join(tempRoot, "plugins_registry")
	cdiDir := filepath.Join(tempRoot, "cdi")
	for _, d := range []string{pluginDir, registryDir, cdiDir} {
		must(os.Mkdir(d, 0755), "mkdir")
	}
	pluginCmd = exec.Command(*pluginPath, "--driver", driver, "--plugin-dir", pluginDir,
		"--registry-dir", registryDir, "--cdi-dir", cdiDir, "--fixture", *fixturePath)
	pluginCmd.Stderr = os.Stderr
	stdin, err := pluginCmd.StdinPipe()
	must(err, "stdin")
	stdout, err := pluginCmd.StdoutPipe()
	must(err, "stdout")
	must(pluginCmd.Start(), "start dra_test_plugin")
	p := &plugin{stdin: stdin, lines: make(chan string, 1024)}
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			p.lines <- scanner.Text()
		}
		close(p.lines)
	}()
	ready := strings.Fields(p.waitLine("READY "))
	regPath := filepath.Join(registryDir, driver+"-reg.sock")
	check(len(ready) == 3 && ready[2] == regPath, "READY line %v", ready)

	// Registration.
	k, info := register(regPath)
	check(info.Endpoint == filepath.Join(pluginDir, driver, "dra.sock"), "endpoint %s", info.Endpoint)
	check(reflect.DeepEqual(info.SupportedVersions, []string{"v1.DRAPlugin", "v1beta1.DRAPlugin"}),
		"supported versions %v", info.SupportedVersions)
	check(k.api == "v1", "negotiated %s, want v1", k.api)
	p.waitLine("REGISTERED 1")

	for _, api := range []string{"v1", "v1beta1"} {
		resp := k.prepare(api, claims(nic, gpu, slow))
		for _, c := range [][3]string{nic, gpu, slow} {
			checkPrepared(api, resp, c, fixture.Claims[c[2]], cdiDir)
		}
		again := k.prepare(api, claims(slow, gpu, nic))
		check(reflect.DeepEqual(again.Claims, resp.Claims), "%s: a repeated Prepare answered otherwise", api)
		errs := k.unprepare(api, claims(nic, gpu, slow, unknown))
		check(reflect.DeepEqual(errs, map[string]string{nic[2]: "", gpu[2]: "", slow[2]: "", unknown[2]: ""}),
			"%s: Unprepare answered %v", api, errs)
		left, _ := ioutil.ReadDir(cdiDir)
		check(len(left) == 0, "%s: %d CDI files left after Unprepare", api, len(left))
	}

	// Per-claim failures: the other claims are prepared all the same.
	resp := k.prepare("v1", claims(unknown, gone, nic, [3]string{"default", "no-uid", ""}))
	check(strings.Contains(resp.Claims[unknown[2]].GetError(), "has no allocation for this driver"),
		"unknown claim: %q", resp.Claims[unknown[2]].GetError())
	check(resp.Claims[gone[2]].GetError() == fixture.Claims[gone[2]].Error, "gone claim: %q",
		resp.Claims[gone[2]].GetError())
	check(strings.HasSuffix(resp.Claims[""].GetError(), "lacks its uid"), "claim without uid: %q",
		resp.Claims[""].GetError())
	checkPrepared("v1", resp, nic, fixture.Claims[nic[2]], cdiDir)

	// A request that is not one: the call fails, the plugin serves on.
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	err = k.conn.Invoke(ctx, "/k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin/NodePrepareResources",
		// Field 1 (claims, a message) as a varint.
		&draapi.RegistrationStatus{PluginRegistered: true}, &draapi.NodePrepareResourcesResponse{})
	cancel()
	check(status.Code(err) == codes.InvalidArgument, "malformed request: %v", err)

	// The kubelet restarts: a new one registers the plugin again and finds the claim prepared.
	k.conn.Close()
	k, _ = register(regPath)
	p.waitLine("REGISTERED 2")
	check(p.command("status", "STATUS") == "STATUS 2 2", "status after the restart")
	again := k.prepare("v1", claims(nic))
	check(again.Claims[nic[2]].GetError() == "" && reflect.DeepEqual(again.Claims[nic[2]], resp.Claims[nic[2]]),
		"Prepare after the restart: %v", again.Claims[nic[2]])
	errs := k.unprepare("v1", claims(nic))
	check(errs[nic[2]] == "", "Unprepare after the restart: %q", errs[nic[2]])
	k.conn.Close()

	p.command("quit", "OK quit")
	must(pluginCmd.Wait(), "dra_test_plugin exit")
	names, _ := filepath.Glob(filepath.Join(registryDir, "*"))
	sort.Strings(names)
	check(len(names) == 0, "sockets left in plugins_registry: %v", names)
	if failures > 0 {
		fmt.Printf("%d checks failed\n", failures)
		exit(1)
	}
	fmt.Println("ok: registration, Prepare/Unprepare over v1 and v1beta1, errors, restart")
	exit(0)
}
