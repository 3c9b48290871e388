package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// benchSource feeds the benchmark's events through an event source
// instead of HTTP (`herald bench --source nats`).
type benchSource interface {
	// publish sends c.events events (data {"n", "t"}) and returns how many
	// the broker accepted.
	publish(ctx context.Context, c benchConfig) (int, error)
	close()
}

// startBenchSource prepares the broker side and creates the source in
// herald, waiting until herald is connected to it.
func startBenchSource(ctx context.Context, c benchConfig, url, key string) (benchSource, error) {
	switch c.source {
	case "nats":
		return startBenchNATS(ctx, c, url, key)
	}
	return nil, usageError{fmt.Sprintf("herald bench: --source %q: use nats", c.source)}
}

type benchNATS struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	stream string
}

// startBenchNATS creates a stream of its own (HERALD_BENCH_<random>,
// deleted by close) on --nats-url and a source reading it.
func startBenchNATS(ctx context.Context, c benchConfig, url, key string) (benchSource, error) {
	nc, err := nats.Connect(c.natsURL, nats.Timeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", c.natsURL, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	b := &benchNATS{nc: nc, js: js, stream: "HERALD_BENCH_" + strings.ToUpper(randomHex(6))}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: b.stream, Subjects: []string{b.stream + ".>"}, Storage: jetstream.FileStorage}); err != nil {
		nc.Close()
		return nil, fmt.Errorf("create stream %s: %w", b.stream, err)
	}
	body, _ := json.Marshal(map[string]any{"name": "bench", "type": "nats", "url": c.natsURL,
		"nats":    map[string]any{"stream": b.stream, "consumer": "herald"},
		"mapping": map[string]any{"type_from": "header:Event-Type", "data_from": "body", "id_from": "message_id"}})
	src, err := benchDo(ctx, url, key, "POST", "/api/v1/sources", body)
	if err != nil {
		b.close()
		return nil, err
	}
	id, _ := src["id"].(string)
	for deadline := time.Now().Add(30 * time.Second); ; {
		got, err := benchDo(ctx, url, key, "GET", "/api/v1/sources/"+id, nil)
		if err == nil && got["state"] == "connected" {
			return b, nil
		}
		if time.Now().After(deadline) {
			b.close()
			return nil, fmt.Errorf("herald did not connect to the NATS source within 30 s: %v %v", got, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *benchNATS) publish(ctx context.Context, c benchConfig) (int, error) {
	const window = 4096 // publishes awaiting JetStream's ack
	futures := make([]jetstream.PubAckFuture, 0, window)
	acked := 0
	wait := func() error {
		for _, f := range futures {
			select {
			case <-f.Ok():
				acked++
			case err := <-f.Err():
				return fmt.Errorf("publish: %w", err)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		futures = futures[:0]
		return nil
	}
	for i := 0; i < c.events; i++ {
		m := nats.NewMsg(b.stream + ".member.verified")
		m.Header.Set("Event-Type", "member.verified")
		m.Data = fmt.Appendf(nil, `{"n": %d, "t": %d}`, i, time.Now().UnixNano())
		f, err := b.js.PublishMsgAsync(m)
		if err != nil {
			return acked, fmt.Errorf("publish: %w", err)
		}
		futures = append(futures, f)
		if len(futures) == window {
			if err := wait(); err != nil {
				return acked, err
			}
		}
	}
	return acked, wait()
}

func (b *benchNATS) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b.js.DeleteStream(ctx, b.stream)
	b.nc.Close()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
