// SPDX-License-Identifier: Apache-2.0

// A fake kubelet written with grpc-go (Debian's golang-google-grpc-dev), the gRPC implementation
// the real kubelet uses, driving tests/deviceplugin/dp_test_plugin: registration with the
// dial-back inside Register (kubelet >= 1.25), ListAndWatch with a health change, Allocate in
// request order, an unknown id, GetPreferredAllocation, a kubelet restart, and the plugin's
// stop. Like the kubelet, it dials Unix sockets with a custom dialer, so the plugin sees the
// socket path as :authority (what kubelets before 1.26 send).
//
// Usage: fakekubelet -plugin PATH [-dir DIR]. Exit status 0 when every step passed.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"io/ioutil"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"hostdev.test/kubeletapi"
)

const resource = "example.com/dev"

// waitLimit bounds every wait for an event (a registration, a list, an answer), generously: a
// loaded machine is not a failure. HOSTDEV_TEST_TIMEOUT_SCALE multiplies it.
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

// The temporary kubelet root to remove on exit ("" when given with -dir), and the plugin to kill
// if it still runs then.
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

// ---------------------------------------------------------------------------------------------
// The kubelet's Registration service

type registration struct {
	req     *kubeletapi.RegisterRequest
	options *kubeletapi.DevicePluginOptions
	conn    *grpc.ClientConn
	at      time.Time
}

type kubelet struct {
	dir           string
	server        *grpc.Server
	registrations chan registration
}

func (k *kubelet) Register(ctx context.Context,
	req *kubeletapi.RegisterRequest) (*kubeletapi.Empty, error) {
	// kubelet >= 1.25: dial the plugin and ask for its options inside Register.
	conn, err := kubeletapi.Dial(context.Background(), filepath.Join(k.dir, req.Endpoint))
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "cannot dial the plugin: %v", err)
	}
	options := &kubeletapi.DevicePluginOptions{}
	cctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	err = conn.Invoke(cctx, "/v1beta1.DevicePlugin/GetDevicePluginOptions", &kubeletapi.Empty{},
		options)
	if err != nil {
		conn.Close()
		return nil, status.Errorf(codes.Unavailable, "GetDevicePluginOptions: %v", err)
	}
	k.registrations <- registration{req, options, conn, time.Now()}
	return &kubeletapi.Empty{}, nil
}

func (k *kubelet) start() {
	sock := filepath.Join(k.dir, "kubelet.sock")
	os.Remove(sock)
	l, err := net.Listen("unix", sock)
	must(err, "listen on kubelet.sock")
	k.server = grpc.NewServer()
	k.server.RegisterService(&kubeletapi.RegistrationDesc, k)
	go k.server.Serve(l)
}

// restart: stop, delete every file of the directory but the checkpoint, serve again.
func (k *kubelet) restart() {
	k.server.Stop()
	entries, err := ioutil.ReadDir(k.dir)
	must(err, "read the device-plugin directory")
	for _, e := range entries {
		if e.Name() != "kubelet_internal_checkpoint" {
			os.Remove(filepath.Join(k.dir, e.Name()))
		}
	}
	k.start()
}

func (k *kubelet) waitRegistration(timeout time.Duration) *registration {
	select {
	case r := <-k.registrations:
		return &r
	case <-time.After(timeout):
		return nil
	}
}

// ---------------------------------------------------------------------------------------------
// The kubelet's side of a plugin

type watch struct {
	lists chan []*kubeletapi.Device
	end   chan error
}

func listAndWatch(conn *grpc.ClientConn) *watch {
	w := &watch{make(chan []*kubeletapi.Device, 16), make(chan error, 1)}
	stream, err := conn.NewStream(context.Background(), &grpc.StreamDesc{ServerStreams: true},
		"/v1beta1.DevicePlugin/ListAndWatch")
	must(err, "ListAndWatch")
	must(stream.SendMsg(&kubeletapi.Empty{}), "ListAndWatch send")
	must(stream.CloseSend(), "ListAndWatch close send")
	go func() {
		for {
			resp := &kubeletapi.ListAndWatchResponse{}
			if err := stream.RecvMsg(resp); err != nil {
				w.end <- err
				return
			}
			w.lists <- resp.Devices
		}
	}()
	return w
}

// The next list; ok false on timeout.
func (w *watch) next(timeout time.Duration) (devices []*kubeletapi.Device, ok bool) {
	select {
	case l := <-w.lists:
		return l, true
	case <-time.After(timeout):
		return nil, false
	}
}

func summary(devices []*kubeletapi.Device) string {
	var parts []string
	for _, d := range devices {
		numa := "-"
		if d.Topology != nil && len(d.Topology.Nodes) > 0 {
			numa = fmt.Sprint(d.Topology.Nodes[0].ID)
		}
		parts = append(parts, d.ID+"/"+d.Health+"/"+numa)
	}
	return strings.Join(parts, ",")
}

// ---------------------------------------------------------------------------------------------
// The plugin process

type plugin struct {
	cmd   *exec.Cmd
	fifo  string
	lines chan string
}

func startPlugin(binary, root string) *plugin {
	fifo := filepath.Join(root, "control")
	must(syscall.Mkfifo(fifo, 0600), "mkfifo")
	p := &plugin{fifo: fifo, lines: make(chan string, 64)}
	p.cmd = exec.Command(binary, "--kubelet-dir", root, "--resource", resource, "--control", fifo,
		"--devices", "dev-a:1:0,dev-b:1:1,dev-c:1:-1,dev-d:0:0")
	p.cmd.Stderr = os.Stderr
	out, err := p.cmd.StdoutPipe()
	must(err, "plugin stdout")
	must(p.cmd.Start(), "start the plugin")
	pluginCmd = p.cmd
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			p.lines <- s.Text()
		}
		close(p.lines)
	}()
	return p
}

func (p *plugin) command(line string) {
	f, err := os.OpenFile(p.fifo, os.O_WRONLY, 0)
	must(err, "open the control FIFO")
	_, err = io.WriteString(f, line+"\n")
	f.Close()
	must(err, "write a command")
	deadline := time.After(waitLimit)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				must(fmt.Errorf("plugin exited"), line)
			}
			if l == "OK "+line {
				return
			}
			if strings.HasPrefix(l, "ERR "+line) {
				must(fmt.Errorf("%s", l), line)
			}
		case <-deadline:
			must(fmt.Errorf("no answer"), line)
		}
	}
}

func main() {
	binary := flag.String("plugin", "", "dp_test_plugin binary")
	dir := flag.String("dir", "", "kubelet root (default: a new temporary directory)")
	flag.Parse()
	if *binary == "" {
		fmt.Println("usage: fakekubelet -plugin PATH [-dir DIR]")
		os.Exit(2)
	}
	root := *dir
	if root == "" {
		var err error
		root, err = ioutil.TempDir("", "hostdev-dp-go-")
		must(err, "temporary directory")
		tempRoot = root
	}
	pluginDir := filepath.Join(root, "device-plugins")
	must(os.MkdirAll(pluginDir, 0755), "mkdir device-plugins")
	checkpoint := filepath.Join(pluginDir, "kubelet_internal_checkpoint")
	must(ioutil.WriteFile(checkpoint, []byte(`{"Data":{},"Checksum":1}`), 0644), "checkpoint")
	before, _ := os.Stat(checkpoint)

	k := &kubelet{dir: pluginDir, registrations: make(chan registration, 8)}
	k.start()
	p := startPlugin(*binary, root)

	// Registration, with the dial-back inside Register.
	r := k.waitRegistration(waitLimit)
	if r == nil {
		must(fmt.Errorf("no Register within %v", waitLimit), "registration")
	}
	check(r.req.Version == "v1beta1", "version %q", r.req.Version)
	check(r.req.ResourceName == resource, "resource %q", r.req.ResourceName)
	check(r.req.Endpoint == "example.com_dev.sock", "endpoint %q", r.req.Endpoint)
	check(r.req.Options != nil && r.req.Options.PreStartRequired &&
		r.req.Options.GetPreferredAllocationAvailable, "register options %v", r.req.Options)
	check(reflect.DeepEqual(r.options, r.req.Options), "options %v vs %v", r.options, r.req.Options)

	// ListAndWatch: the full list at once, then on a health change.
	w := listAndWatch(r.conn)
	l, _ := w.next(waitLimit)
	check(summary(l) == "dev-a/Healthy/0,dev-b/Healthy/1,dev-c/Healthy/-,dev-d/Unhealthy/0",
		"initial list %s", summary(l))
	t0 := time.Now()
	p.command("health dev-b 0")
	l, _ = w.next(waitLimit)
	check(summary(l) == "dev-a/Healthy/0,dev-b/Unhealthy/1,dev-c/Healthy/-,dev-d/Unhealthy/0",
		"list after the health change %s", summary(l))
	fmt.Printf("health change seen after %v\n", time.Since(t0))

	// Allocate: one answer per container request, in order.
	ctx := context.Background()
	areq := &kubeletapi.AllocateRequest{ContainerRequests: []*kubeletapi.ContainerAllocateRequest{
		{DevicesIDs: []string{"dev-b", "dev-a"}}, {DevicesIDs: []string{"dev-c"}}}}
	aresp := &kubeletapi.AllocateResponse{}
	must(r.conn.Invoke(ctx, "/v1beta1.DevicePlugin/Allocate", areq, aresp), "Allocate")
	check(len(aresp.ContainerResponses) == 2, "%d container responses", len(aresp.ContainerResponses))
	if len(aresp.ContainerResponses) == 2 {
		c := aresp.ContainerResponses[0]
		check(c.Envs["TEST_IDS"] == "dev-b,dev-a", "envs %v", c.Envs)
		check(len(c.Devices) == 2 && c.Devices[0].HostPath == "/dev/test/dev-b" &&
			c.Devices[0].Permissions == "mrw", "devices %v", c.Devices)
		check(len(c.Mounts) == 1 && c.Mounts[0].ReadOnly, "mounts %v", c.Mounts)
		check(c.Annotations["test/count"] == "2", "annotations %v", c.Annotations)
		check(len(c.CDIDevices) == 1 && c.CDIDevices[0].Name == "test.example.com/dev=dev-b",
			"cdi %v", c.CDIDevices)
		check(aresp.ContainerResponses[1].Envs["TEST_IDS"] == "dev-c", "second %v",
			aresp.ContainerResponses[1].Envs)
	}
	err := r.conn.Invoke(ctx, "/v1beta1.DevicePlugin/Allocate", &kubeletapi.AllocateRequest{
		ContainerRequests: []*kubeletapi.ContainerAllocateRequest{{DevicesIDs: []string{"nope"}}}}, aresp)
	check(status.Code(err) == codes.InvalidArgument && strings.Contains(err.Error(), "'nope'"),
		"unknown id: %v", err)

	// GetPreferredAllocation: must-include first, exactly allocation_size ids.
	preq := &kubeletapi.PreferredAllocationRequest{
		ContainerRequests: []*kubeletapi.ContainerPreferredAllocationRequest{{
			AvailableDeviceIDs: []string{"dev-a", "dev-b", "dev-c"}, MustIncludeDeviceIDs: []string{"dev-a"},
			AllocationSize: 2}}}
	presp := &kubeletapi.PreferredAllocationResponse{}
	must(r.conn.Invoke(ctx, "/v1beta1.DevicePlugin/GetPreferredAllocation", preq, presp),
		"GetPreferredAllocation")
	check(len(presp.ContainerResponses) == 1 &&
		reflect.DeepEqual(presp.ContainerResponses[0].DeviceIDs, []string{"dev-a", "dev-c"}),
		"preferred %v", presp.ContainerResponses)

	// Kubelet restart: sockets deleted, kubelet.sock created again -> registered again (how
	// fast is printed, not checked: bench/ measures it).
	r.conn.Close()
	k.restart()
	t0 = time.Now()
	r = k.waitRegistration(waitLimit)
	if r == nil {
		must(fmt.Errorf("no Register within %v of the restart", waitLimit), "re-registration")
	}
	fmt.Printf("re-registered %v after the restart\n", time.Since(t0))
	w = listAndWatch(r.conn)
	l, _ = w.next(waitLimit)
	check(len(l) == 4, "list after the restart %s", summary(l))

	// Stop: an empty list, then the end of the stream, and the socket is gone.
	p.command("quit")
	l, ok := w.next(waitLimit)
	check(ok && len(l) == 0, "last list %q (received: %v)", summary(l), ok)
	select {
	case err := <-w.end:
		check(err == io.EOF, "end of ListAndWatch: %v", err)
	case <-time.After(waitLimit):
		check(false, "ListAndWatch did not end")
	}
	check(p.cmd.Wait() == nil, "plugin exit status")
	_, err = os.Stat(filepath.Join(pluginDir, "example.com_dev.sock"))
	check(os.IsNotExist(err), "socket left behind: %v", err)
	after, err := os.Stat(checkpoint)
	check(err == nil && os.SameFile(before, after) && after.ModTime() == before.ModTime(),
		"kubelet_internal_checkpoint touched")
	r.conn.Close()
	k.server.Stop()

	if failures > 0 {
		fmt.Printf("%d failures\n", failures)
		exit(1)
	}
	fmt.Println("PASS")
	exit(0)
}
