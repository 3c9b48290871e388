package delivery

// What net/http itself costs herald's process per delivery, with the
// other side of each connection in a child process so that only one
// side's CPU is counted: the floor under the end-to-end CPU targets
// (docs/PERFORMANCE.md, "What bounds the CPU per delivery").

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/netguard"
	"github.com/heraldhq/herald/internal/storetest"
)

const floorPeerEnv = "HERALD_FLOOR_PEER"

// floorBody is the size of the bench's payload and of an event it posts.
var floorBody = []byte(`{"n": 1234567, "t": 1765000000000000000}`)

// BenchmarkHTTPFloor measures, per request, the CPU time of this process
// (user+system) for:
//   - Outbound: POSTs sent with the delivery engine's transport (netguard,
//     keep-alive) to a receiver in a child process that answers 200 —
//     herald's half of a delivery's HTTP call;
//   - Inbound: POSTs received by a net/http server that reads the body and
//     answers 202, sent by a child process — herald's half of one POST
//     /events;
//   - Relay: both in one process, as herald does them without its
//     database: the handler hands each event to a pool of workers and
//     answers 202, a worker POSTs it to the receiver.
//
// Each flat out over 64 connections, and paced one at a time at 1,000
// and 200 per second (run those with -benchtime 2000x).
func BenchmarkHTTPFloor(b *testing.B) {
	for _, rate := range []int{0, 1000, 200} {
		b.Run("Outbound/"+floorShape(rate), func(b *testing.B) {
			post := floorClient(b)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := storetest.StartCPU(b)
			if rate > 0 {
				storetest.Paced(b.N, rate, post)
			} else {
				flatOut(b.N, func() bool { post(); return true })
			}
			b.StopTimer()
			cpu.Report(b, b.N, "request")
		})
	}
	for _, relay := range []bool{false, true} {
		name := "Inbound/"
		if relay {
			name = "Relay/"
		}
		for _, rate := range []int{0, 1000, 200} {
			b.Run(name+floorShape(rate), func(b *testing.B) { floorServer(b, rate, relay) })
		}
	}
}

// floorClient starts a receiver in a child process and returns a func
// that POSTs the bench's payload to it with the engine's transport.
func floorClient(b *testing.B) func() {
	addr := startFloorPeer(b, "receiver", "")
	g := netguard.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	client := &http.Client{Transport: g.Transport()}
	b.Cleanup(client.CloseIdleConnections)
	url := "http://" + addr + "/in"
	post := func() {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(floorBody))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			b.Error(err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	post() // the first connection
	return post
}

// floorServer serves b.N POSTs sent by a driver in a child process, and
// with relay POSTs each one on to a receiver from a pool of workers.
func floorServer(b *testing.B, rate int, relay bool) {
	var finished atomic.Int64
	done := make(chan struct{})
	finish := func() {
		if finished.Add(1) == int64(b.N) {
			close(done)
		}
	}
	var jobs chan []byte
	if relay {
		post := floorClient(b)
		jobs = make(chan []byte, 64)
		var workers sync.WaitGroup
		for range 64 {
			workers.Go(func() {
				for range jobs {
					post()
					finish()
				}
			})
		}
		defer workers.Wait()
		defer close(jobs)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if relay {
			jobs <- body
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		w.Write([]byte(`{"event_id":"01JF0000000000000000000000","deliveries":1}`))
		if !relay {
			finish()
		}
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	defer func() {
		// Let the last answers reach the driver before closing.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := storetest.StartCPU(b)
	startFloorPeer(b, "driver", ln.Addr().String()+" "+strconv.Itoa(b.N)+" "+strconv.Itoa(rate))
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		b.Fatalf("%d of %d requests done in 2 minutes", finished.Load(), b.N)
	}
	b.StopTimer()
	cpu.Report(b, b.N, "request")
}

// flatOut calls f n times from 64 goroutines (one per connection); a
// goroutine stops early when f returns false.
func flatOut(n int, f func() bool) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for next.Add(1) <= int64(n) && f() {
			}
		})
	}
	wg.Wait()
}

// floorShape names a sub-benchmark: 64 connections flat out, or one
// request at a time at a steady rate.
func floorShape(rate int) string {
	if rate == 0 {
		return "64-connections"
	}
	return "steady-" + strconv.Itoa(rate) + "-per-s"
}

// startFloorPeer runs this test binary again as the other side
// (TestFloorPeer) and returns the first line it prints. The child ends
// when the benchmark does (its stdin closes).
func startFloorPeer(b *testing.B, role, arg string) string {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFloorPeer$")
	cmd.Env = append(os.Environ(), floorPeerEnv+"="+role+" "+arg)
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatalf("%s peer: %v", role, err)
	}
	return line[:len(line)-1]
}

// TestFloorPeer is the child process of BenchmarkHTTPFloor; run on its
// own it does nothing.
func TestFloorPeer(t *testing.T) {
	spec := os.Getenv(floorPeerEnv)
	if spec == "" {
		return
	}
	var role, addr string
	var n, rate int
	fmt.Sscan(spec, &role, &addr, &n, &rate)
	switch role {
	case "receiver":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
		fmt.Println(ln.Addr().String())
	case "driver":
		fmt.Println("ready")
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		post := func() bool {
			resp, err := client.Post("http://"+addr+"/events", "application/json", bytes.NewReader(floorBody))
			if err != nil {
				fmt.Fprintln(os.Stderr, "driver:", err)
				return false
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return true
		}
		if rate > 0 {
			storetest.Paced(n, rate, func() { post() })
		} else {
			flatOut(n, post)
		}
	}
	io.Copy(io.Discard, os.Stdin) // until the benchmark ends
}
