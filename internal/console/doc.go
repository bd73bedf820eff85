// Package console is Ferry's built-in web console: a small single-page app
// (plain HTML, CSS and JavaScript embedded with embed, no external CDN) and
// the JSON API under /api/ that it uses.
//
// # Why a Kafka client, not broker internals
//
// The console talks to the cluster the way any operator tool would: as a
// franz-go client (kgo for reading and producing, kadm for admin requests)
// seeded with the node's own Kafka listener. So it imports nothing of the
// broker (imports go one way), it shows exactly what clients see, it works
// the same on every node of a cluster (metadata sends it to each partition's
// leader and each group's coordinator), and whatever the broker refuses a
// client it refuses the console too.
//
// # Wiring
//
// One line mounts it at "/" of the node's HTTP listener:
//
//	mux.Handle("/", console.New(console.Options{Brokers: []string{kafkaAddr}, Logger: logger}))
//
// Everything it serves is below "/": "/" the page, "/static/" its assets,
// "/api/" the JSON. Other paths on the same mux (/metrics, /healthz) win by
// being more specific.
//
// # API
//
//	GET  /api/cluster                          brokers, controller, cluster id
//	GET  /api/topics                           topics with partition counts, records, sizes
//	GET  /api/topics/{topic}                   partitions: leader, epoch, replicas, ISR, offsets
//	GET  /api/topics/{topic}/configs           configs with their source
//	POST /api/topics/{topic}/configs           {"set":{"k":"v"},"delete":["k"]} (incremental)
//	GET  /api/topics/{topic}/messages          ?partition=&offset=|time=&limit=&format=
//	POST /api/topics/{topic}/messages          produce {"partition":?,"key","value","headers"}
//	GET  /api/topics/{topic}/search            ?key=&max_scan=&format=
//	GET  /api/groups                           groups with state and total lag
//	GET  /api/groups/{group}                   members, assignment, lag per partition
//	POST /api/groups/{group}/reset             plan (dry_run) or apply an offset reset
//	GET  /api/transactions                     transactional ids with state
//	GET  /api/transactions/{id}                one transaction described
//	GET  /api/live                             end-offset sums and records/s per topic
//
// Every answer is JSON; an error is {"error": "...", "status": N} with a
// status that says whose fault it is: 400 bad input, 403 a POST from
// another site's page, 404 unknown topic, partition, group or transactional
// id, 405 wrong method, 409 a reset of a group that has members, 413 a body
// over 1 MiB, 429 too many message reads at once, 500 a bug (logged), 502
// the broker refused, 504 the broker did not answer in time. A refusal by
// the broker's ACLs is 403 too.
//
// Messages are read as read_uncommitted, as an operator looking for a
// record wants: records of open and aborted transactions show too, and
// offsets taken by transaction markers show as gaps.
//
// # Bounds
//
// One request reads at most MaxMessages (500) records to show, at most
// MaxFetchBytes (8 MiB) per fetch, and shows at most MaxShownBytes (64 KiB)
// of a key, value or header (the rest is cut and marked). A key search scans
// at most MaxSearchScan (100,000) records, the newest of each partition,
// split evenly between partitions, and stops at the request's time limit. A
// request body is at most 1 MiB. At most MaxConcurrentScans (4) browses
// and searches run at once, each with a consumer of its own. Every request
// has a time limit (Options.RequestTimeout, 15 s by default).
//
// Mutating requests (POST) from another origin are refused
// (net/http.CrossOriginProtection), so a web page elsewhere cannot make a
// browser on the operator's machine edit configs or reset offsets. The
// console has no login: keep the HTTP listener on loopback or behind a proxy
// that authenticates.
package console
