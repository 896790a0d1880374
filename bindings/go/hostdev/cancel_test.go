// SPDX-License-Identifier: Apache-2.0

package hostdev_test

// The context.Context forms of the blocking calls: BindContext on the vfio test host (a done
// context changes nothing), RunContext of a loop, and the monitor's WaitContext and Events channel
// inside umockdev with a keyboard plugged and unplugged (usb-fake-run --hotplug, nothing timed).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/libhostdev/libhostdev/bindings/go/hostdev"
)

func TestBindContext(t *testing.T) {
	h := newFakeHost(t)
	host := h.open(t)

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if n, err := host.BindContext(cancelled, []string{nic}, nil); !errors.Is(err, context.Canceled) || n != 0 {
		t.Fatalf("BindContext with a cancelled context: %d, %v", n, err)
	}
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	if _, err := host.SetNumVFsContext(expired, nic, 2, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SetNumVFsContext past its deadline: %v", err)
	}
	if h.driver(nic) != "e1000e" {
		t.Fatalf("a done context changed the host: driver %q", h.driver(nic))
	}

	live, cancel3 := context.WithTimeout(context.Background(), waitLimit)
	defer cancel3()
	n, err := host.BindContext(live, []string{nic}, &hostdev.BindOptions{Owner: "vm-ctx"})
	mustN(t, "BindContext", n, err, 1)
	if h.driver(nic) != hostdev.VFIODriver {
		t.Fatalf("driver %q after BindContext", h.driver(nic))
	}
	n, err = host.RestoreAll(&hostdev.RestoreOptions{Owner: "vm-ctx"})
	mustN(t, "RestoreAll", n, err, 1)
}

func TestLoopRunContext(t *testing.T) {
	host, err := hostdev.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	loop, err := host.NewDevicePluginLoop()
	if err != nil {
		t.Fatal(err)
	}
	defer loop.Close()
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- loop.RunContext(runCtx) }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("RunContext after cancel: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("RunContext did not return after its context was cancelled")
	}
	// Quit ends it with nil while the context lives.
	go func() { done <- loop.RunContext(context.Background()) }()
	for {
		loop.Quit()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("RunContext after Quit: %v", err)
			}
			return
		case <-time.After(10 * time.Millisecond):
			// Quit before Run began is consumed by that Run; again until it returns.
		}
	}
}

func TestUSBEvents(t *testing.T) {
	out := inTestbed(t, "events-ready", os.Args[0], "-test.run", "^TestUSBEventsInTestbed$", "-test.v")
	if !strings.Contains(out, "--- PASS: TestUSBEventsInTestbed") {
		t.Fatalf("inner test did not pass:\n%s", out)
	}
}

func TestUSBEventsInTestbed(t *testing.T) {
	if os.Getenv("HOSTDEV_TEST_IN_TESTBED") == "" {
		t.Skip("runs inside umockdev, started by TestUSBEvents")
	}
	host, err := hostdev.Open(hostdev.WithPath(hostdev.PathUSBIDs, needEnv(t, "HOSTDEV_TEST_USB_IDS")))
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	mon, err := host.NewMonitor(&hostdev.MonitorOptions{Subsystems: []string{"usb"}, IDs: []string{"0627:"}})
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close()
	if _, err := mon.Start(&hostdev.StartOptions{Kernel: true}); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if ev, err := mon.WaitContext(cancelled); !errors.Is(err, context.Canceled) || ev != nil {
		t.Errorf("WaitContext with a cancelled context: %v, %v", ev, err)
	}
	// Nothing is plugged before "events-ready" is printed: the wait ends at its deadline.
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if ev, err := mon.WaitContext(short); !errors.Is(err, context.DeadlineExceeded) || ev != nil {
		t.Errorf("WaitContext until its deadline: %v, %v", ev, err)
	}

	evCtx, stop := context.WithTimeout(context.Background(), waitLimit)
	defer stop()
	events := mon.Events(evCtx)
	fmt.Println("events-ready") // usb-fake-run plugs the keyboard at 1-5 now
	var seen []string
	for e := range events {
		seen = append(seen, e.Action+" "+e.Name)
		if e.Action == "add" && e.Name == "1-5" {
			if e.USB == nil || e.USB.VendorID != 0x0627 {
				t.Errorf("add event without the keyboard: %+v", e)
			}
			fmt.Println("got add 1-5") // and unplugs it now
		}
		if e.Action == "remove" && e.Name == "1-5" {
			stop()
		}
	}
	if err := mon.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("Err after the channel closed: %v", err)
	}
	if len(seen) < 2 || seen[0] != "add 1-5" || seen[len(seen)-1] != "remove 1-5" {
		t.Errorf("events %v", seen)
	}
}
