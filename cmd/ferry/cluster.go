package main

// ferry cluster up|status|reassign|elect-leaders|decommission: run a
// cluster of local nodes for trying Ferry out (cluster_up.go), show the
// health of any cluster over the Kafka protocol (cluster_status.go,
// classified by cluster_health.go), move replicas (cluster_reassign.go)
// and leaders (cluster_elect.go), and drain a broker
// (cluster_decommission.go).

import "io"

const clusterUsage = `usage: ferry cluster <action> [flags]

actions:
  up --nodes N --data-dir D [--base-port P] [-- serve flags...]
      start N local nodes (ferry serve) as child processes; Ctrl-C stops them
  status [--brokers H:P,...] [--json]
      brokers, the active controller, and partitions that are
      under-replicated, under min ISR or offline (exit status 2 if any is offline)
  reassign --plan FILE.json | --status | --cancel [--brokers H:P,...]
      move partitions' replicas (Kafka's reassignment JSON), show or cancel moves
  elect-leaders [--topic T] [--unclean] [--brokers H:P,...]
      move leadership to preferred replicas, or revive offline partitions
  decommission NODE-ID [--wait] [--cancel]
      drain a broker: the controller moves its replicas to the others

run 'ferry cluster <action> -h' for an action's flags`

func runCluster(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return runAction(args, clusterUsage, "action", "up, status, reassign, elect-leaders or decommission", map[string]func([]string) error{
		"up": func(args []string) error { return clusterUp(args, stdout, stderr) },
		"status": func(args []string) error {
			ctx, cancel := interruptContext()
			defer cancel()
			return clusterStatus(ctx, args, stdout, stderr)
		},
		"reassign": func(args []string) error {
			ctx, cancel := interruptContext()
			defer cancel()
			return clusterReassign(ctx, args, stdout, stderr)
		},
		"elect-leaders": func(args []string) error {
			ctx, cancel := interruptContext()
			defer cancel()
			return clusterElectLeaders(ctx, args, stdout, stderr)
		},
		"decommission": func(args []string) error {
			ctx, cancel := interruptContext()
			defer cancel()
			return clusterDecommission(ctx, args, stdout, stderr)
		},
	}, stdout, stderr)
}
