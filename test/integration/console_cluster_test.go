package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ferry-mq/ferry/internal/console"
)

// The console seeded with one node of a three-node cluster sees every
// broker, each partition's leader and ISR, produces to partitions led by
// the other nodes and reads them back: it is a Kafka client, so metadata
// sends it to each leader.
func TestConsoleOnACluster(t *testing.T) {
	procs := startCluster(t, 3)
	topic := topicName(t)
	adm := newAdmin(t, procs[0].addr)
	createReplicatedTopic(t, adm, topic, 6) // returns once every leader answers for it

	c := console.New(console.Options{Brokers: []string{procs[1].addr}})
	defer c.Close()
	hs := httptest.NewServer(c)
	defer hs.Close()
	// try answers the status; call fails the test unless it is 200.
	try := func(method, path, body string, into any) int {
		t.Helper()
		req, _ := http.NewRequest(method, hs.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var raw json.RawMessage
		if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		if resp.StatusCode != 200 {
			t.Logf("%s %s: %d %s", method, path, resp.StatusCode, raw)
			return resp.StatusCode
		}
		if err := json.Unmarshal(raw, into); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
		return 200
	}
	call := func(method, path, body string, into any) {
		t.Helper()
		if st := try(method, path, body, into); st != 200 {
			t.Fatalf("%s %s answered %d", method, path, st)
		}
	}

	var cluster struct {
		Controller int32
		Brokers    []struct{ ID int32 }
	}
	call("GET", "/api/cluster", "", &cluster)
	if len(cluster.Brokers) != 3 || cluster.Controller < 1 {
		t.Fatalf("cluster = %+v, want 3 brokers and a controller", cluster)
	}

	// A node may apply the new topic a heartbeat after the controller, and
	// followers join the ISR once they have caught up; wait until the
	// console's node lists every partition with a leader and a full ISR.
	var view struct {
		Partitions []struct {
			Partition int32
			Leader    int32
			Replicas  []int32
			ISR       []int32
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st := try("GET", "/api/topics/"+topic, "", &view); st != 200 && st != 404 {
			t.Fatalf("topic view answered %d", st)
		}
		leaders := map[int32]bool{}
		fullISR := 0
		for _, p := range view.Partitions {
			if p.Leader > 0 {
				leaders[p.Leader] = true
			}
			if len(p.Replicas) == 3 && len(p.ISR) == 3 {
				fullISR++
			}
		}
		if len(view.Partitions) == 6 && len(leaders) == 3 && fullISR == 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic view %+v: want 6 partitions led by 3 brokers, each with 3 replicas in sync", view)
		}
		time.Sleep(100 * time.Millisecond)
	}

	for p := range int32(6) {
		var produced struct{ Partition, Offset int64 }
		call("POST", "/api/topics/"+topic+"/messages", fmt.Sprintf(`{"partition":%d,"key":"k%d","value":"v%d"}`, p, p, p), &produced)
		if produced.Partition != int64(p) || produced.Offset != 0 {
			t.Fatalf("produce to partition %d answered %+v", p, produced)
		}
	}
	for p := range int32(6) {
		var browsed struct {
			Messages []struct {
				Offset int64
				Value  struct{ Text string }
			}
		}
		call("GET", fmt.Sprintf("/api/topics/%s/messages?partition=%d&offset=0", topic, p), "", &browsed)
		if len(browsed.Messages) != 1 || browsed.Messages[0].Value.Text != fmt.Sprintf("v%d", p) {
			t.Errorf("partition %d (leader %d) read back %+v", p, view.Partitions[p].Leader, browsed.Messages)
		}
	}
	var topics struct {
		Topics []struct {
			Name              string
			ReplicationFactor int `json:"replication_factor"`
			UnderReplicated   int `json:"under_replicated"`
			Records           int64
		}
	}
	call("GET", "/api/topics", "", &topics)
	for _, tp := range topics.Topics {
		if tp.Name == topic && (tp.ReplicationFactor != 3 || tp.UnderReplicated != 0 || tp.Records != 6) {
			t.Errorf("topic list entry %+v: want RF 3, none under-replicated, 6 records", tp)
		}
	}
}
