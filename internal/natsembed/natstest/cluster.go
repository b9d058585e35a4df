package natstest

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/foliostream/foliostream/internal/natsembed"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Cluster is n embedded servers on loopback joined by routes into one
// JetStream cluster (the in-process twin of deploy/nats). Each node has its
// own store under t.TempDir(); every running node is shut down in
// t.Cleanup.
type Cluster struct {
	t       testing.TB
	Name    string
	Servers []*server.Server // nil while a node is stopped
	opts    []*server.Options
}

// RunCluster starts an n-node cluster and returns once its nodes are routed
// to each other and JetStream has a meta leader.
func RunCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{t: t, Name: "folio-test", Servers: make([]*server.Server, n)}
	// Routes need every node's cluster port up front: each is held by a
	// listener of ours until just before its node binds it, so that no
	// other process takes it meanwhile.
	ports := make([]int, n)
	holds := make([]net.Listener, n)
	for i := range ports {
		holds[i], ports[i] = reservePort(t)
	}
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	for i := range n {
		c.opts = append(c.opts, &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       server.RANDOM_PORT,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			Cluster:    server.ClusterOpts{Name: c.Name, Host: "127.0.0.1", Port: ports[i]},
			Routes:     server.RoutesFromStr(strings.Join(routes, ",")),
			NoLog:      true,
			NoSigs:     true,
		})
	}
	t.Cleanup(func() {
		for i := range c.Servers {
			c.Stop(i)
		}
	})
	for i := range n {
		holds[i].Close()
		c.Start(i)
	}
	c.WaitReady()
	return c
}

func reservePort(t testing.TB) (net.Listener, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln, ln.Addr().(*net.TCPAddr).Port
}

// Start starts node i (again, with its store and its ports of the first
// start).
func (c *Cluster) Start(i int) {
	c.t.Helper()
	if c.Servers[i] != nil {
		c.t.Fatalf("node %d already running", i)
	}
	srv, err := natsembed.StartOptions(c.opts[i].Clone(), nil, 30*time.Second)
	if err != nil {
		c.t.Fatalf("start node %d: %v", i, err)
	}
	// A restart keeps the client port, so clients find it again.
	c.opts[i].Port = srv.Addr().(*net.TCPAddr).Port
	c.Servers[i] = srv
}

// Stop shuts node i down (a no-op when it is stopped).
func (c *Cluster) Stop(i int) {
	if s := c.Servers[i]; s != nil {
		s.Shutdown()
		s.WaitForShutdown()
		c.Servers[i] = nil
	}
}

// Index returns the index of the node named name (-1 if none).
func (c *Cluster) Index(name string) int {
	for i, o := range c.opts {
		if o.ServerName == name {
			return i
		}
	}
	return -1
}

// URLs returns the client URLs of the running nodes, node order.
func (c *Cluster) URLs() []string {
	var urls []string
	for _, s := range c.Servers {
		if s != nil {
			urls = append(urls, s.ClientURL())
		}
	}
	return urls
}

// WaitReady waits until every running node has a route to every other
// running node and JetStream has a meta leader.
func (c *Cluster) WaitReady() {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := c.ready()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("cluster not ready: %v", err)
		}
		select {
		case <-c.t.Context().Done():
			c.t.Fatalf("test ended while the cluster formed: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (c *Cluster) ready() error {
	running := 0
	for _, s := range c.Servers {
		if s != nil {
			running++
		}
	}
	leader := false
	for i, s := range c.Servers {
		if s == nil {
			continue
		}
		if s.NumRoutes() < running-1 {
			return fmt.Errorf("node %d has %d routes, want %d", i, s.NumRoutes(), running-1)
		}
		if !s.JetStreamEnabled() {
			return fmt.Errorf("node %d: JetStream not enabled", i)
		}
		if !s.JetStreamIsCurrent() {
			return fmt.Errorf("node %d: JetStream meta layer not current", i)
		}
		if s.JetStreamIsLeader() {
			leader = true
			// Placement of an R3 asset needs every peer online with stats
			// at the meta leader ("no suitable peers for placement"
			// otherwise, seen under -race).
			if n := len(s.JetStreamClusterPeers()); n < running {
				return fmt.Errorf("meta leader (node %d) sees %d of %d peers online", i, n, running)
			}
		}
	}
	if !leader {
		return errors.New("no JetStream meta leader")
	}
	return nil
}

// Connect opens a client to the nodes at urls (all running nodes when none
// are given; the client fails over between them), reconnecting forever,
// closed in t.Cleanup.
func (c *Cluster) Connect(urls ...string) (*nats.Conn, jetstream.JetStream) {
	c.t.Helper()
	if len(urls) == 0 {
		urls = c.URLs()
	}
	nc, err := nats.Connect(strings.Join(urls, ","), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond),
		nats.DontRandomize())
	if err != nil {
		c.t.Fatalf("connect %v: %v", urls, err)
	}
	c.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		c.t.Fatalf("jetstream: %v", err)
	}
	return nc, js
}
