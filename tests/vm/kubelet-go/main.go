// SPDX-License-Identifier: Apache-2.0

// vm-kubelet: the kubelet's side of the device-plugin API v1beta1 for the QEMU guest (tests/vm),
// written with grpc-go, the gRPC implementation the real kubelet uses, and built as a static
// program (CGO_ENABLED=0, GOPATH mode over Debian's /usr/share/gocode) because the guest has no
// Python grpcio. Scenario 93-deviceplugin drives `hostdev serve` with it.
//
//	vm-kubelet serve -dir ROOT
//
// Serves v1beta1.Registration on ROOT/device-plugins/kubelet.sock (the directory is created,
// with a kubelet_internal_checkpoint that the plugins must leave alone). For every Register,
// like kubelets >= 1.25: dial the plugin back at ROOT/device-plugins/<endpoint> with a custom
// Unix dialer (so the plugin sees the socket path as :authority), call GetDevicePluginOptions
// inside Register, answer, then open ListAndWatch. A new registration of a resource replaces the
// previous connection. One JSON line per event on stdout, each ending with "ms", the
// milliseconds since the start:
//
//	{"event":"serving","socket":PATH}
//	{"event":"register","resource":R,"version":V,"endpoint":E,"options":{...},"dialback_options":{...}}
//	{"event":"register-failed","resource":R,"error":TEXT}
//	{"event":"list","resource":R,"seq":N,"devices":[{"id":ID,"health":"Healthy","numa":[0]},...]}
//	{"event":"end","resource":R,"status":"OK" or the gRPC error}
//	{"event":"stopped"}
//
// "numa" is left out for a device without topology; "seq" counts the lists of one stream from 1.
// SIGTERM or SIGINT: stop serving (kubelet.sock is removed), print "stopped", exit 0.
//
//	vm-kubelet allocate -socket PATH IDS [IDS...]
//
// One Allocate call on the plugin's socket with one container request per argument (device ids
// separated by commas). Prints the AllocateResponse as one JSON line
// ({"container_responses":[{"envs":{...},"mounts":[...],"devices":[{"container_path":...,
// "host_path":...,"permissions":...}],"annotations":{...},"cdi_devices":[...]}]}), or
// {"error":{"code":"NotFound","message":...}} and exit status 1.
//
//	vm-kubelet dra-register [-registry DIR] -driver NAME [-timeout D]
//	vm-kubelet dra-prepare -socket PATH [-api v1|v1beta1] NAMESPACE/NAME/UID...
//	vm-kubelet dra-unprepare -socket PATH [-api v1|v1beta1] NAMESPACE/NAME/UID...
//
// The DRA mode (dra.go, scenario 96-agent-dra): the plugin watcher's registration of a DRA
// driver (GetInfo checked as the kubelet checks it, NotifyRegistrationStatus; prints
// {"event":"registered","endpoint":...,"api":"v1",...}) and one NodePrepareResources or
// NodeUnprepareResources call each (the answer as one JSON line; exit 1 when the call failed, 2
// when a claim failed or is missing from the answer).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/ioutil"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"hostdev.test/kubeletapi"
)

var (
	start  = time.Now()
	outMu  sync.Mutex
	stdout = os.Stdout
)

// emit prints one JSON object as a line, with "ms" appended.
func emit(v interface{}) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(fmt.Sprintf(`{"event":"internal-error","error":%q}`, err.Error()))
	}
	line := fmt.Sprintf(`%s,"ms":%d}`+"\n", b[:len(b)-1], time.Since(start).Milliseconds())
	outMu.Lock()
	stdout.WriteString(line)
	outMu.Unlock()
}

func fatal(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "vm-kubelet: "+format+"\n", args...)
	os.Exit(1)
}

// ---------------------------------------------------------------------------------------------
// serve: the kubelet's Registration service and its side of every registered plugin

type endpoint struct {
	conn   *grpc.ClientConn
	cancel context.CancelFunc
}

type kubelet struct {
	dir       string // ROOT/device-plugins
	mu        sync.Mutex
	endpoints map[string]*endpoint
}

type registerEvent struct {
	Event           string                          `json:"event"`
	Resource        string                          `json:"resource"`
	Version         string                          `json:"version"`
	Endpoint        string                          `json:"endpoint"`
	Options         *kubeletapi.DevicePluginOptions `json:"options"`
	DialbackOptions *kubeletapi.DevicePluginOptions `json:"dialback_options"`
}

type failedEvent struct {
	Event    string `json:"event"`
	Resource string `json:"resource"`
	Error    string `json:"error"`
}

type listedDevice struct {
	ID     string  `json:"id"`
	Health string  `json:"health"`
	NUMA   []int64 `json:"numa,omitempty"`
}

type listEvent struct {
	Event    string         `json:"event"`
	Resource string         `json:"resource"`
	Seq      int            `json:"seq"`
	Devices  []listedDevice `json:"devices"`
}

type endEvent struct {
	Event    string `json:"event"`
	Resource string `json:"resource"`
	Status   string `json:"status"`
}

func (k *kubelet) Register(ctx context.Context,
	req *kubeletapi.RegisterRequest) (*kubeletapi.Empty, error) {
	fail := func(c codes.Code, format string, args ...interface{}) (*kubeletapi.Empty, error) {
		err := status.Errorf(c, format, args...)
		emit(failedEvent{"register-failed", req.ResourceName, err.Error()})
		return nil, err
	}
	if req.Version != "v1beta1" {
		return fail(codes.InvalidArgument, "version %q is not supported (v1beta1)", req.Version)
	}
	if req.ResourceName == "" || !strings.Contains(req.ResourceName, "/") {
		return fail(codes.InvalidArgument, "invalid resource name %q", req.ResourceName)
	}
	if req.Endpoint == "" || strings.Contains(req.Endpoint, "/") {
		return fail(codes.InvalidArgument, "endpoint %q is not a socket file name", req.Endpoint)
	}
	// kubelet >= 1.25: dial the plugin and ask for its options inside Register.
	conn, err := kubeletapi.Dial(ctx, filepath.Join(k.dir, req.Endpoint))
	if err != nil {
		return fail(codes.Unavailable, "cannot dial the plugin at %s: %v", req.Endpoint, err)
	}
	options := &kubeletapi.DevicePluginOptions{}
	// A bound for a hung plugin only: a loaded TCG guest is slow, and that is no failure.
	octx, ocancel := context.WithTimeout(ctx, 60*time.Second)
	defer ocancel()
	err = conn.Invoke(octx, "/v1beta1.DevicePlugin/GetDevicePluginOptions", &kubeletapi.Empty{},
		options)
	if err != nil {
		conn.Close()
		return fail(codes.Unavailable, "GetDevicePluginOptions: %v", err)
	}
	emit(registerEvent{"register", req.ResourceName, req.Version, req.Endpoint, req.Options, options})

	lctx, lcancel := context.WithCancel(context.Background())
	k.mu.Lock()
	if old := k.endpoints[req.ResourceName]; old != nil {
		old.cancel()
		old.conn.Close()
	}
	k.endpoints[req.ResourceName] = &endpoint{conn, lcancel}
	k.mu.Unlock()
	go listAndWatch(lctx, req.ResourceName, conn)
	return &kubeletapi.Empty{}, nil
}

func listAndWatch(ctx context.Context, resource string, conn *grpc.ClientConn) {
	end := func(err error) {
		text := "OK"
		if err != io.EOF {
			text = err.Error()
		}
		emit(endEvent{"end", resource, text})
	}
	stream, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true},
		"/v1beta1.DevicePlugin/ListAndWatch")
	if err != nil {
		end(err)
		return
	}
	if err := stream.SendMsg(&kubeletapi.Empty{}); err != nil {
		end(err)
		return
	}
	if err := stream.CloseSend(); err != nil {
		end(err)
		return
	}
	for seq := 1; ; seq++ {
		resp := &kubeletapi.ListAndWatchResponse{}
		if err := stream.RecvMsg(resp); err != nil {
			end(err)
			return
		}
		devices := make([]listedDevice, 0, len(resp.Devices))
		for _, d := range resp.Devices {
			ld := listedDevice{ID: d.ID, Health: d.Health}
			if d.Topology != nil {
				for _, n := range d.Topology.Nodes {
					ld.NUMA = append(ld.NUMA, n.ID)
				}
			}
			devices = append(devices, ld)
		}
		emit(listEvent{"list", resource, seq, devices})
	}
}

func serve(args []string) {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	root := fs.String("dir", "", "kubelet root (the socket is DIR/device-plugins/kubelet.sock)")
	fs.Parse(args)
	if *root == "" || fs.NArg() != 0 {
		fatal("usage: vm-kubelet serve -dir ROOT")
	}
	k := &kubelet{dir: filepath.Join(*root, "device-plugins"), endpoints: map[string]*endpoint{}}
	if err := os.MkdirAll(k.dir, 0755); err != nil {
		fatal("%v", err)
	}
	checkpoint := filepath.Join(k.dir, "kubelet_internal_checkpoint")
	if _, err := os.Stat(checkpoint); os.IsNotExist(err) {
		if err := ioutil.WriteFile(checkpoint, []byte(`{"Data":{},"Checksum":1}`), 0644); err != nil {
			fatal("%v", err)
		}
	}
	sock := filepath.Join(k.dir, "kubelet.sock")
	os.Remove(sock)
	l, err := net.Listen("unix", sock)
	if err != nil {
		fatal("listen on %s: %v", sock, err)
	}
	server := grpc.NewServer()
	server.RegisterService(&kubeletapi.RegistrationDesc, k)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- server.Serve(l) }()
	emit(struct {
		Event  string `json:"event"`
		Socket string `json:"socket"`
	}{"serving", sock})
	select {
	case <-signals:
	case err := <-done:
		fatal("serving %s: %v", sock, err)
	}
	server.Stop()
	k.mu.Lock()
	for _, e := range k.endpoints {
		e.cancel()
		e.conn.Close()
	}
	k.mu.Unlock()
	os.Remove(sock)
	emit(struct {
		Event string `json:"event"`
	}{"stopped"})
}

// ---------------------------------------------------------------------------------------------
// allocate: one Allocate call, as the kubelet makes when a pod is admitted

func allocate(args []string) {
	fs := flag.NewFlagSet("allocate", flag.ExitOnError)
	socket := fs.String("socket", "", "the plugin's socket")
	fs.Parse(args)
	if *socket == "" || fs.NArg() == 0 {
		fatal("usage: vm-kubelet allocate -socket PATH IDS [IDS...]")
	}
	req := &kubeletapi.AllocateRequest{}
	for _, ids := range fs.Args() {
		req.ContainerRequests = append(req.ContainerRequests,
			&kubeletapi.ContainerAllocateRequest{DevicesIDs: strings.Split(ids, ",")})
	}
	conn, err := kubeletapi.Dial(context.Background(), *socket)
	if err != nil {
		fatal("dial %s: %v", *socket, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp := &kubeletapi.AllocateResponse{}
	if err := conn.Invoke(ctx, "/v1beta1.DevicePlugin/Allocate", req, resp); err != nil {
		s := status.Convert(err)
		b, _ := json.Marshal(map[string]map[string]string{
			"error": {"code": s.Code().String(), "message": s.Message()}})
		fmt.Println(string(b))
		conn.Close()
		os.Exit(1)
	}
	b, err := json.Marshal(resp)
	if err != nil {
		fatal("%v", err)
	}
	fmt.Println(string(b))
}

func main() {
	if len(os.Args) < 2 {
		fatal("usage: vm-kubelet serve -dir ROOT | allocate -socket PATH IDS [IDS...] | " +
			"dra-register -driver NAME | dra-prepare|dra-unprepare -socket PATH NS/NAME/UID...")
	}
	switch os.Args[1] {
	case "serve":
		serve(os.Args[2:])
	case "allocate":
		allocate(os.Args[2:])
	case "dra-register":
		draRegister(os.Args[2:])
	case "dra-prepare":
		draPrepare(os.Args[2:])
	case "dra-unprepare":
		draUnprepare(os.Args[2:])
	default:
		fatal("unknown command %q (serve, allocate, dra-register, dra-prepare, dra-unprepare)", os.Args[1])
	}
}
