'use strict'
// kafkajs against a Ferry broker, driven by test/integration/kafkajs_test.go.
//
//   node roundtrip.js <broker> <topic> <group>              produce 300 records with a
//       plain producer and 100 with an idempotent one, then read all 400 in
//       consumer group <group> from the beginning
//   node roundtrip.js <broker> <topic> <group> consume <n>  only read <n> in the group
//
// Every record read is printed to stdout as one JSON line:
//   {"partition":0,"offset":12,"key":"<base64>","value":"<base64>","headers":[{"key":"seq","value":"<base64>"}]}
// (a null key or value prints as null). After the wanted count the consumer
// keeps polling for a second, so a duplicate or a stray record is printed
// too, then leaves the group; offsets are committed by kafkajs's own
// auto-commit after each batch. kafkajs's logs go to stderr.
//
// The records produced are a pure function of their index; recordFor in the Go
// test mirrors it byte for byte.

const { Kafka, Partitioners, CompressionTypes, logLevel } = require('kafkajs')

const PLAIN = 300
const IDEMPOTENT = 100
const DEADLINE_MS = 60000

function usage() {
  process.stderr.write('usage: node roundtrip.js <broker> <topic> <group> [consume <n>]\n')
  process.exit(2)
}

const [broker, topic, group, mode, countArg] = process.argv.slice(2)
if (!broker || !topic || !group || (mode !== undefined && mode !== 'consume')) usage()
const consumeOnly = mode === 'consume'
const want = consumeOnly ? Number(countArg) : PLAIN + IDEMPOTENT
if (!Number.isInteger(want) || want < 0) usage()

// recordFor returns record i: a multi-byte UTF-8 key, a value with every
// byte value in its tail (zeroes, invalid UTF-8), and headers including a
// binary one and a repeated key.
function recordFor(i, producer) {
  const idx = String(i).padStart(3, '0')
  const tail = Buffer.alloc(i % 50)
  for (let j = 0; j < tail.length; j++) tail[j] = (i + j) % 256
  return {
    key: `key-${idx}-\u00fc`,
    value: Buffer.concat([Buffer.from(`value-${idx}-`), tail]),
    headers: {
      seq: String(i),
      bin: Buffer.from([i % 256, 0, 255 - (i % 256)]),
      tag: ['a', 'b'],
      producer,
    },
  }
}

function range(from, to) {
  return Array.from({ length: to - from }, (_, k) => from + k)
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

// kafkajs logs with console.info (stdout) by default; stdout is for records.
const toStderr = () => ({ namespace, label, log }) => {
  process.stderr.write(JSON.stringify({ level: label, namespace, ...log }) + '\n')
}

const kafka = new Kafka({
  clientId: 'ferry-kafkajs-test',
  brokers: [broker],
  logLevel: logLevel.WARN,
  logCreator: toStderr,
})

async function produce() {
  // Plain producer: three sends of 100, the middle one gzip-compressed.
  const plain = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await plain.connect()
  for (let b = 0; b < 3; b++) {
    await plain.send({
      topic,
      acks: -1,
      compression: b === 1 ? CompressionTypes.GZIP : CompressionTypes.None,
      messages: range(b * 100, b * 100 + 100).map(i => recordFor(i, 'plain')),
    })
  }
  await plain.disconnect()

  // Idempotent producer: four sends of 25, so each partition's sequence
  // numbers continue across requests.
  const idem = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  })
  await idem.connect()
  for (let b = 0; b < 4; b++) {
    const from = PLAIN + b * 25
    await idem.send({ topic, acks: -1, messages: range(from, from + 25).map(i => recordFor(i, 'idempotent')) })
  }
  await idem.disconnect()
}

function print(partition, message) {
  const b64 = buf => (buf === null || buf === undefined ? null : buf.toString('base64'))
  const headers = []
  for (const [key, v] of Object.entries(message.headers || {})) {
    for (const value of Array.isArray(v) ? v : [v]) headers.push({ key, value: b64(value) })
  }
  process.stdout.write(
    JSON.stringify({ partition, offset: Number(message.offset), key: b64(message.key), value: b64(message.value), headers }) + '\n'
  )
}

async function consume() {
  const consumer = kafka.consumer({
    groupId: group,
    sessionTimeout: 6000,
    rebalanceTimeout: 10000,
    heartbeatInterval: 500,
    maxWaitTimeInMs: 200,
  })
  let seen = 0
  let reached, crashed
  const all = new Promise((resolve, reject) => ((reached = resolve), (crashed = reject)))
  if (want === 0) reached()
  // A crash kafkajs will not restart from (e.g. an unsupported codec) ends
  // the run now rather than at the deadline.
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (!payload.restart) crashed(payload.error)
  })
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        print(partition, message)
        if (++seen >= want) reached()
      },
    })
    await all
    await sleep(1000) // anything read now is a duplicate or a stray
  } finally {
    await consumer.disconnect()
  }
  process.stderr.write(`kafkajs consumer read ${seen} records (wanted ${want})\n`)
}

async function main() {
  const timer = setTimeout(() => {
    process.stderr.write(`roundtrip.js: gave up after ${DEADLINE_MS} ms\n`)
    process.exit(1)
  }, DEADLINE_MS)
  if (!consumeOnly) await produce()
  await consume()
  clearTimeout(timer)
}

main().catch(err => {
  process.stderr.write(`roundtrip.js: ${err && err.stack ? err.stack : err}\n`)
  process.exit(1)
})
