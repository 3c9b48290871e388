package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/secrets"
)

// TestScaleOutAcrossHosts runs three herald processes, each in its own
// network namespace (its own "host": its own address, reachable only
// through a veth pair), against one PostgreSQL server that this test
// starts on the host side of those links. Steady load goes to the three
// in turn; the load must spread over them; one node's link is cut in the
// middle (its leased deliveries are taken over after the short --lease)
// and restored; another node is killed with SIGKILL. At the end every
// acknowledged event must have reached the receiver (0 lost), duplicates
// are counted, and no delivery may have been attempted by two nodes at
// once. The receiver tells the nodes apart by the source address of the
// connection: each namespace has its own.
func TestScaleOutAcrossHosts(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: scale-out test (-short)")
	}
	require := os.Getenv("HERALD_REQUIRE_NETNS") != ""
	skip := func(why string) {
		t.Helper()
		if require {
			t.Fatalf("HERALD_REQUIRE_NETNS is set but %s", why)
		}
		t.Skip("SKIP: " + why)
	}
	if os.Geteuid() != 0 {
		skip("the scale-out test needs root to create network namespaces (ip netns add)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		skip("the scale-out test needs the ip command (iproute2)")
	}
	if _, err := os.Stat(filepath.Join(pgBinDir(), "initdb")); err != nil {
		skip("the scale-out test starts its own PostgreSQL and needs its programs in " + pgBinDir() + " (HERALD_PG_BIN)")
	}
	// Root without CAP_NET_ADMIN (an unprivileged container) cannot
	// make links or namespaces: say so, rather than fail half-way.
	probe := fmt.Sprintf("hq%d", os.Getpid()%100000)
	if out, err := exec.Command("ip", "link", "add", probe, "type", "bridge").CombinedOutput(); err != nil {
		skip(fmt.Sprintf("this root cannot create network links (ip link add: %v: %s)", err, strings.TrimSpace(string(out))))
	}
	exec.Command("ip", "link", "del", probe).Run()
	const (
		lease   = 3 * time.Second
		timeout = time.Second // --attempt-timeout
		nodes   = 3
	)
	net3 := newTestNet(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()

	pg, err := startOwnPostgres(ctx, net3.hostIP, []string{net3.cidr})
	if err != nil {
		t.Fatalf("start the test's own PostgreSQL: %v", err)
	}
	t.Cleanup(pg.stop)
	db, err := pg.createDB(ctx, "herald")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "herald.key")
	if _, _, err := secrets.LoadOrCreateKeyFile(keyFile); err != nil {
		t.Fatal(err)
	}
	key, stderr, err := runHerald(t, envFunc(map[string]string{"HERALD_DB": db, "HERALD_SECRET_KEY_FILE": keyFile}), "apikey", "create", "--name", "scaleout")
	if err != nil {
		t.Fatalf("apikey: %v %s", err, stderr)
	}
	key = strings.TrimSpace(key)

	// 50 ms per request: each node has a few deliveries in flight when it
	// is cut off or killed, whose leases the others must wait out.
	rcv := newNodeLedger(t, net3, 50*time.Millisecond)

	ns := make([]*nsNode, nodes)
	for i := range ns {
		ns[i] = startNSNode(t, net3, i, "--db", db, "--secret-key-file", keyFile, "--allow-network", net3.cidr,
			"--lease", lease.String(), "--attempt-timeout", timeout.String(), "--log-level", "warn")
	}
	setupHook(t, ns[0].url, key, rcv.url+"/hook")

	// Steady load: one sender per node, 120 events/s each, so a node
	// that is cut off or dead does not slow the others' senders.
	var (
		mu      sync.Mutex
		ackedBy = map[int]int{} // event n → node that acknowledged it
		nextN   int
	)
	load, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range ns {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			client := &http.Client{Timeout: 2 * time.Second}
			tick := time.NewTicker(time.Second / 120)
			defer tick.Stop()
			for {
				select {
				case <-load.Done():
					return
				case <-tick.C:
				}
				mu.Lock()
				nextN++
				n := nextN
				mu.Unlock()
				body := fmt.Sprintf(`{"type": "member.verified", "data": {"n": %d}}`, n)
				req, _ := http.NewRequestWithContext(load, "POST", ns[i].url+"/api/v1/events", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", "application/json")
				res, err := client.Do(req)
				if err != nil {
					continue // cut off or dead: the event was not acknowledged
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode == http.StatusAccepted {
					mu.Lock()
					ackedBy[n] = i
					mu.Unlock()
				}
			}
		}(i)
	}
	acked := func() map[int]int {
		mu.Lock()
		defer mu.Unlock()
		out := make(map[int]int, len(ackedBy))
		for k, v := range ackedBy {
			out[k] = v
		}
		return out
	}

	// Phase 1: all three up. The load must spread.
	time.Sleep(5 * time.Second)
	spread := rcv.perNode(time.Time{}, time.Now())
	t.Logf("phase 1 (all up, 5 s): receipts per node %v", spread)
	total := 0
	for _, c := range spread {
		total += c
	}
	if total < 300 {
		t.Fatalf("only %d receipts in the first 5 s; the load did not run", total)
	}
	for i := range ns {
		if spread[i] < total/10 {
			t.Fatalf("node %d attempted %d of %d deliveries: the load is not spread over the three (%v)", i+1, spread[i], total, spread)
		}
	}

	// Phase 2: cut node 2's link for longer than the lease (its claims
	// are taken over meanwhile), then restore it while the new owners'
	// leases still run: a stale attempt by node 2 would overlap them.
	cut := 1
	cutAt := time.Now()
	net3.setLink(t, cut, false)
	time.Sleep(lease + 2*time.Second)
	restoredAt := time.Now()
	net3.setLink(t, cut, true)
	t.Logf("phase 2: node %d cut off for %s", cut+1, restoredAt.Sub(cutAt).Round(time.Millisecond))
	during := rcv.perNode(cutAt.Add(500*time.Millisecond), restoredAt)
	if during[cut] != 0 {
		t.Errorf("node %d delivered %d while its link was down", cut+1, during[cut])
	}

	// Phase 3: kill node 3 with SIGKILL, keep the load on the others.
	time.Sleep(3 * time.Second)
	killed := 2
	killedAt := time.Now()
	ns[killed].kill(t)
	time.Sleep(lease + 2*time.Second)
	stopLoad()
	wg.Wait()
	endAt := time.Now()

	// Every acknowledged event reaches the receiver.
	all := acked()
	if len(all) < 1000 {
		t.Fatalf("only %d events acknowledged; the test exercised little", len(all))
	}
	deadline := time.Now().Add(45 * time.Second)
	var missing []int
	for {
		missing = rcv.missing(all)
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(missing) > 0 {
		sort.Ints(missing)
		t.Fatalf("LOST: %d of %d acknowledged events never reached the receiver (e.g. %v)", len(missing), len(all), missing[:min(10, len(missing))])
	}
	time.Sleep(500 * time.Millisecond) // let late requests in flight arrive before judging overlaps

	rep := rcv.report(timeout, lease)
	byNode := map[int]int{}
	for _, n := range all {
		byNode[n]++
	}
	t.Logf("acknowledged %d events (per node that took them: %v); the cut lasted %s; node %d killed %s before the load stopped",
		len(all), byNode, restoredAt.Sub(cutAt).Round(time.Millisecond), killed+1, endAt.Sub(killedAt).Round(time.Millisecond))
	t.Logf("receipts per node over the whole run: %v", rcv.perNode(time.Time{}, time.Now()))
	t.Logf("lost 0; %d receipts for %d deliveries: %d duplicates (%d of them requests that reached the receiver after their sender had given up on them: TCP retransmitted them when the link came back); %d deliveries taken over by another node after a first attempt by the cut or killed node, %s–%s after it (--lease %s)",
		rep.receipts, rep.deliveries, rep.receipts-rep.deliveries, rep.late, rep.takenOver, rep.minGap.Round(time.Millisecond), rep.maxGap.Round(time.Millisecond), lease)
	if rep.overlaps != 0 {
		t.Fatalf("%d deliveries were attempted by two nodes at once (e.g. %s)", rep.overlaps, rep.example)
	}
	if rep.inLease != 0 {
		t.Fatalf("%d deliveries were attempted by a second node within the first node's lease (e.g. %s)", rep.inLease, rep.example)
	}
	if rep.takenOver == 0 {
		t.Errorf("no delivery was taken over after the cut or the kill: the test did not exercise the lease")
	}
}

// testNet is a bridge on the host with a veth pair to each of n network
// namespaces, all in one private /24 that nothing else on the machine uses.
type testNet struct {
	prefix string // "10.213.X."
	cidr   string // "10.213.X.0/24"
	hostIP string // the bridge's address: PostgreSQL and the receiver listen here
	bridge string
	ns     []string // namespace names
	veth   []string // host-side ends
}

func newTestNet(t *testing.T, n int) *testNet {
	t.Helper()
	used := run1(t, "ip", "-o", "addr") + run1(t, "ip", "route", "show", "table", "all")
	for y := 1; y < 255; y++ {
		p := fmt.Sprintf("10.213.%d.", y)
		if !strings.Contains(used, p) {
			tn := &testNet{prefix: p, cidr: p + "0/24", hostIP: p + "1"}
			tn.create(t, n)
			return tn
		}
	}
	t.Fatal("no free /24 in 10.213.0.0/16")
	return nil
}

// create makes the bridge, the namespaces and their links; t.Cleanup removes them.
func (n *testNet) create(t *testing.T, count int) {
	t.Helper()
	tag := fmt.Sprintf("t%d", os.Getpid()%100000)
	n.bridge = "hb" + tag
	ip(t, "link", "add", n.bridge, "type", "bridge")
	t.Cleanup(func() { exec.Command("ip", "link", "del", n.bridge).Run() })
	ip(t, "addr", "add", n.hostIP+"/24", "dev", n.bridge)
	ip(t, "link", "set", n.bridge, "up")
	for i := 0; i < count; i++ {
		name := fmt.Sprintf("herald-%s-n%d", tag, i+1)
		host, peer := fmt.Sprintf("hv%sn%d", tag, i+1), fmt.Sprintf("hp%sn%d", tag, i+1)
		ip(t, "netns", "add", name)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
		ip(t, "link", "add", host, "type", "veth", "peer", "name", peer)
		t.Cleanup(func() { exec.Command("ip", "link", "del", host).Run() })
		ip(t, "link", "set", peer, "netns", name)
		ip(t, "link", "set", host, "master", n.bridge)
		ip(t, "link", "set", host, "up")
		addr := n.nodeIP(i)
		ip(t, "netns", "exec", name, "ip", "addr", "add", addr+"/24", "dev", peer)
		ip(t, "netns", "exec", name, "ip", "link", "set", peer, "up")
		ip(t, "netns", "exec", name, "ip", "link", "set", "lo", "up")
		n.ns = append(n.ns, name)
		n.veth = append(n.veth, host)
	}
}

func (n *testNet) nodeIP(i int) string { return n.prefix + strconv.Itoa(11+i) }

// setLink takes node i's link down (up=false) or up again, on the host side.
func (n *testNet) setLink(t *testing.T, i int, up bool) {
	t.Helper()
	state := "down"
	if up {
		state = "up"
	}
	ip(t, "link", "set", n.veth[i], state)
}

func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func run1(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return string(out)
}

// nsNode is `herald serve` running inside a namespace.
type nsNode struct {
	cmd    *exec.Cmd
	url    string
	ip     string
	stderr *bytes.Buffer
}

func startNSNode(t *testing.T, n *testNet, i int, args ...string) *nsNode {
	t.Helper()
	if len(n.ns) == 0 {
		t.Fatal("testNet.create first")
	}
	addr := net.JoinHostPort(n.nodeIP(i), "8080")
	a, _ := json.Marshal(append([]string{"serve", "--addr", addr}, args...))
	// The test binary is herald (see TestMain): it runs main() with these
	// arguments, inside the namespace.
	cmd := exec.Command("ip", "netns", "exec", n.ns[i], os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "HERALD_TEST_CHILD_ARGS="+string(a))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	node := &nsNode{cmd: cmd, ip: n.nodeIP(i), stderr: &bytes.Buffer{}}
	cmd.Stderr = &lockedWriter{w: node.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// ip netns exec execs the program in place: this PID is herald's.
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("node %d stderr:\n%s", i+1, tail(node.stderr.String(), 3000))
		}
	})
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "herald listening on "); ok {
				urlc <- u
			}
		}
	}()
	select {
	case node.url = <-urlc:
	case <-time.After(60 * time.Second):
		t.Fatalf("node %d did not start: %s", i+1, node.stderr)
	}
	return node
}

func (n *nsNode) kill(t *testing.T) {
	t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	n.cmd.Wait()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// nodeLedger is the receiver: it records every request with the node
// that sent it (the connection's source address), when it arrived and
// when it was answered, and herald's webhook-timestamp (when the node
// sent it).
type nodeLedger struct {
	srv   *http.Server
	url   string
	net   *testNet
	mu    sync.Mutex
	recs  []receipt
	byEv  map[int]int
	delay time.Duration
}

type receipt struct {
	id         string
	n          int
	node       int // 0-based; -1 unknown
	start, end time.Time
	sentAt     time.Time // webhook-timestamp (whole seconds)
}

func newNodeLedger(t *testing.T, n *testNet, delay time.Duration) *nodeLedger {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(n.hostIP, "0"))
	if err != nil {
		t.Fatal(err)
	}
	l := &nodeLedger{url: "http://" + ln.Addr().String(), net: n, byEv: map[int]int{}, delay: delay}
	l.srv = &http.Server{Handler: http.HandlerFunc(l.serve)}
	go l.srv.Serve(ln)
	t.Cleanup(func() { l.srv.Close() })
	return l
}

func (l *nodeLedger) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var body struct{ N int }
	json.NewDecoder(r.Body).Decode(&body)
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	node := -1
	for i := range l.net.ns {
		if host == l.net.nodeIP(i) {
			node = i
		}
	}
	ts, _ := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
	time.Sleep(l.delay)
	w.WriteHeader(http.StatusNoContent)
	l.mu.Lock()
	l.recs = append(l.recs, receipt{id: r.Header.Get("webhook-id"), n: body.N, node: node, start: start, end: time.Now(), sentAt: time.Unix(ts, 0)})
	l.byEv[body.N]++
	l.mu.Unlock()
}

func (l *nodeLedger) missing(acked map[int]int) []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []int
	for n := range acked {
		if l.byEv[n] == 0 {
			out = append(out, n)
		}
	}
	return out
}

// perNode counts receipts per node that arrived in [from, to).
func (l *nodeLedger) perNode(from, to time.Time) map[int]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[int]int{}
	for _, r := range l.recs {
		if !r.start.Before(from) && r.start.Before(to) {
			out[r.node]++
		}
	}
	return out
}

type ledgerReport struct {
	receipts, deliveries int
	late                 int // arrived after the sender's timeout had passed: the sender had given up on it
	takenOver            int
	overlaps             int           // two nodes' attempts of one delivery overlapping in time
	inLease              int           // a second node's attempt started within lease of the first's send
	minGap, maxGap       time.Duration // between the first and the last attempt of a delivery taken over
	example              string
}

// report judges every delivery's receipts. A request whose arrival is
// later than its webhook-timestamp + the attempt timeout (+1 s for the
// timestamp's whole seconds and slack) reached the receiver after its
// sender had given up on it (TCP retransmitted it when a link came back):
// no node was attempting it any more, so it is counted as a duplicate but
// not judged for overlap.
func (l *nodeLedger) report(timeout, lease time.Duration) ledgerReport {
	l.mu.Lock()
	defer l.mu.Unlock()
	by := map[string][]receipt{}
	var rep ledgerReport
	for _, r := range l.recs {
		by[r.id] = append(by[r.id], r)
	}
	rep.receipts, rep.deliveries = len(l.recs), len(by)
	for id, rs := range by {
		sort.Slice(rs, func(i, j int) bool { return rs[i].start.Before(rs[j].start) })
		var live []receipt
		for _, r := range rs {
			if r.start.Sub(r.sentAt) > timeout+time.Second+500*time.Millisecond {
				rep.late++
				continue
			}
			live = append(live, r)
		}
		if len(rs) > 1 && rs[0].node != rs[len(rs)-1].node {
			rep.takenOver++
			gap := rs[len(rs)-1].start.Sub(rs[0].start)
			if rep.minGap == 0 || gap < rep.minGap {
				rep.minGap = gap
			}
			rep.maxGap = max(rep.maxGap, gap)
		}
		for i := 1; i < len(live); i++ {
			a, b := live[i-1], live[i]
			if a.node == b.node {
				continue
			}
			if b.start.Before(a.end) {
				rep.overlaps++
				rep.example = fmt.Sprintf("delivery %s: node %d %s–%s, node %d from %s", id, a.node+1, a.start.Format("15:04:05.000"), a.end.Format("15:04:05.000"), b.node+1, b.start.Format("15:04:05.000"))
			} else if b.start.Sub(a.start) < lease-time.Second {
				// The first node sent it within a few milliseconds of its
				// claim; a second claim is allowed only once that lease
				// has run out (1 s of slack for the claim-to-send delay).
				rep.inLease++
				rep.example = fmt.Sprintf("delivery %s: node %d at %s, node %d at %s (lease %s)", id, a.node+1, a.start.Format("15:04:05.000"), b.node+1, b.start.Format("15:04:05.000"), lease)
			}
		}
	}
	return rep
}
