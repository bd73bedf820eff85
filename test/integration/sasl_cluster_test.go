package integration

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferry-mq/ferry/internal/config"
)

// A cluster that requires SASL (and so checks ACLs) replicates: followers
// authenticate as --inter-broker-user, which every node creates and which
// passes the CLUSTER_ACTION check on follower fetches, so acks=all writes
// to a replication-factor-3 topic are acknowledged and read back. Without
// inter-broker authentication the followers' fetches are refused and
// acks=all never completes.
func TestSASLClusterReplicates(t *testing.T) {
	srvs, _ := inprocCluster(t, 3, func(c *config.Config) {
		c.Security.SASLMechanisms = []string{"SCRAM-SHA-256", "SCRAM-SHA-512"}
		c.Security.BootstrapUser = adminUser + ":" + adminPassword
		c.Security.InterBrokerUser = "broker:broker-secret"
		c.ACL.Superusers = []string{"User:" + adminUser}
	})
	cl := newClient(t, srvs[0].Addr(), kgo.SASL(scram512(adminUser, adminPassword)))
	adm := kadm.NewClient(cl)
	topic := topicName(t)
	createReplicatedTopic(t, adm, topic, 1)
	waitISR(t, adm, topic, func(isr []int32) bool { return len(isr) == 3 })

	prod := newClient(t, srvs[0].Addr(), kgo.SASL(scram512(adminUser, adminPassword)), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordDeliveryTimeout(20*time.Second))
	var rs []*kgo.Record
	for i := range 50 {
		rs = append(rs, &kgo.Record{Value: []byte(fmt.Sprintf("v%05d", i))})
	}
	produceSync(t, prod, rs...)
	md := waitTopicMetadata(t, adm, topic)
	if isr := md.Topics[topic].Partitions[0].ISR; len(isr) != 3 {
		t.Fatalf("ISR %v after acks=all writes, want all three replicas", isr)
	}

	cons := newClient(t, srvs[1].Addr(), kgo.SASL(scram256(adminUser, adminPassword)), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []string
	for len(got) < 50 {
		fs := cons.PollFetches(testCtx(t, 30*time.Second))
		if errs := fs.Errors(); len(errs) > 0 {
			t.Fatalf("fetch: %v", errs)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if strings.Join(got, ",") != strings.Join(values(rs), ",") { // values sorts; these sort in produce order
		t.Fatalf("read %v, want the 50 records in order", got)
	}
}

// A TLS-only cluster (no plaintext listener) requiring SASL replicates:
// followers dial leaders' TLS listeners, verify them with
// --inter-broker-tls-ca and authenticate as the inter-broker user.
func TestTLSOnlySASLClusterReplicates(t *testing.T) {
	pki := newTestPKI(t)
	cert, key, _ := pki.issue(t, "server", pkix.Name{CommonName: "localhost"}, true)
	srvs, _ := inprocCluster(t, 3, func(c *config.Config) {
		c.Security.TLSAddr, c.KafkaAddr = c.KafkaAddr, ""
		c.Security.TLSCert, c.Security.TLSKey = cert, key
		c.Security.InterBrokerTLSCA = pki.caFile
		c.Security.SASLMechanisms = []string{"SCRAM-SHA-512"}
		c.Security.BootstrapUser = adminUser + ":" + adminPassword
		c.Security.InterBrokerUser = "broker:broker-secret"
		c.ACL.Superusers = []string{"User:" + adminUser}
	})
	opts := []kgo.Opt{kgo.DialTLSConfig(pki.clientTLS(t, "", "")), kgo.SASL(scram512(adminUser, adminPassword))}
	adm := kadm.NewClient(newClient(t, srvs[0].TLSAddr(), opts...))
	topic := topicName(t)
	createReplicatedTopic(t, adm, topic, 1)
	waitISR(t, adm, topic, func(isr []int32) bool { return len(isr) == 3 })
	prod := newClient(t, srvs[0].TLSAddr(), append(opts, kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordDeliveryTimeout(20*time.Second))...)
	for i := range 20 {
		produceSync(t, prod, &kgo.Record{Value: []byte(fmt.Sprintf("v%05d", i))})
	}
	if isr := waitTopicMetadata(t, adm, topic).Topics[topic].Partitions[0].ISR; len(isr) != 3 {
		t.Fatalf("ISR %v after acks=all writes, want all three replicas", isr)
	}
}

// With --inter-broker-tls-ca the controller port speaks mutual TLS: the
// nodes form a quorum and replicate through it, while a peer without a
// certificate signed by that CA gets no answer from it.
func TestControllerPortMutualTLS(t *testing.T) {
	pki := newTestPKI(t)
	cert, key, _ := pki.issue(t, "server", pkix.Name{CommonName: "localhost"}, true)
	var ctrlAddr string
	srvs, _ := inprocCluster(t, 3, func(c *config.Config) {
		c.Security.TLSCert, c.Security.TLSKey = cert, key
		c.Security.InterBrokerTLSCA = pki.caFile
		if c.NodeID == 1 {
			ctrlAddr = c.ControllerAddr
		}
	})
	adm := newAdmin(t, srvs[0].Addr())
	topic := topicName(t)
	createReplicatedTopic(t, adm, topic, 1)
	waitISR(t, adm, topic, func(isr []int32) bool { return len(isr) == 3 })
	prod := newClient(t, srvs[0].Addr(), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))
	produceSync(t, prod, &kgo.Record{Value: []byte("over a TLS controller port")})

	// A plaintext peer: its forwarded proposal gets no answer.
	c, err := net.DialTimeout("tcp", ctrlAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("F{\"records\":[]}\n"))
	if n, err := c.Read(make([]byte, 64)); err == nil {
		t.Fatalf("the TLS controller port answered a plaintext peer (%d bytes)", n)
	}
	// A TLS peer whose certificate another CA signed is refused.
	other := newTestPKI(t)
	ocert, okey, _ := other.issue(t, "intruder", pkix.Name{CommonName: "intruder"}, false)
	tc := pki.clientTLS(t, ocert, okey)
	tc.ServerName = "127.0.0.1"
	tconn, err := tls.Dial("tcp", ctrlAddr, tc)
	if err == nil {
		_, err = tconn.Write([]byte("F"))
		if err == nil {
			_, err = tconn.Read(make([]byte, 1))
		}
		tconn.Close()
	}
	if err == nil {
		t.Fatal("the controller port accepted a certificate from another CA")
	}
}

// TestSASLClusterScheduledDelivery: with SASL and ACLs on, the brokers'
// own Produce requests for scheduled messages (a scheduled produce
// forwarded to the leader of __scheduled-0, then its delivery to the
// partition's leader on another node) authenticate as the inter-broker
// user and pass, so the message arrives.
func TestSASLClusterScheduledDelivery(t *testing.T) {
	srvs, _ := inprocCluster(t, 3, func(c *config.Config) {
		c.Security.SASLMechanisms = []string{"SCRAM-SHA-256", "SCRAM-SHA-512"}
		c.Security.BootstrapUser = adminUser + ":" + adminPassword
		c.Security.InterBrokerUser = "broker:broker-secret"
		c.ACL.Authorizer = true
		c.ACL.Superusers = []string{"User:" + adminUser}
	})
	cl := newClient(t, srvs[0].Addr(), kgo.SASL(scram512(adminUser, adminPassword)))
	leader, others := scheduledLeader(t, cl)
	createScheduledTopic(t, cl, "sched-sasl", []int32{others[0], leader, others[1]})
	prod := newClient(t, srvs[0].Addr(), kgo.SASL(scram512(adminUser, adminPassword)), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produceSync(t, prod, &kgo.Record{Topic: "sched-sasl", Value: []byte("x"), Headers: []kgo.RecordHeader{deliverIn(time.Second)}})
	got := consumeN(t, srvs[1].Addr(), allFrom(1, kgo.NewOffset().AtStart()), "sched-sasl", 1, kgo.SASL(scram256(adminUser, adminPassword)))
	if string(got[0].Value) != "x" {
		t.Fatalf("delivered %q, want x", got[0].Value)
	}
}
