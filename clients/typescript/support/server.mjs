// The real palaver server for the tests: started on a random loopback port on a fresh SQLite
// file or PostgreSQL database, killed (SIGKILL) and restarted on the same port, plus a TCP
// proxy whose connections the test can cut, and users made through the admin API.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, deflateSync } from 'node:zlib';

export const ADMIN = 'clients-test-admin';
const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../../..');

/** The server binary: PALAVER_BIN (tests/clients.rs passes cargo's), else target/debug/palaver. */
export function serverBinary() {
  const bin = process.env.PALAVER_BIN ?? join(repo, 'target/debug/palaver');
  if (!existsSync(bin)) throw new Error(`no server binary at ${bin}: run cargo build --bin palaver or set PALAVER_BIN`);
  return bin;
}

const PG = process.env.PALAVER_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The backends to run on: SQLite always; PostgreSQL when reachable (required when CI is set). */
export function backends() {
  try {
    execFileSync('psql', ['-q', '-X', '-d', PG, '-c', 'SELECT 1'], { stdio: 'ignore', timeout: 10_000 });
    return ['sqlite', 'postgres'];
  } catch (error) {
    if (process.env.CI) throw new Error(`PostgreSQL is required in CI and is not reachable at ${PG}: ${error}`);
    console.error(`SKIPPED on PostgreSQL: not reachable at ${PG} (set PALAVER_TEST_PG or start it)`);
    return ['sqlite'];
  }
}

/** A fresh database; `drop()` removes it. */
export function database(backend) {
  if (backend === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'palaver-client-'));
    return { url: `sqlite://${join(dir, 'palaver.db')}`, drop: () => rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `palaver_client_${process.pid}_${Math.floor(Math.random() * 1e9)}`;
  execFileSync('psql', ['-q', '-X', '-d', PG, '-c', `CREATE DATABASE ${name}`], { stdio: 'ignore' });
  const base = PG.slice(0, PG.lastIndexOf('/'));
  return {
    url: `${base}/${name}`,
    drop: () => execFileSync('psql', ['-q', '-X', '-d', PG, '-c', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`], { stdio: 'ignore' }),
  };
}

function spawnOn(dbUrl, bind, extra) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(serverBinary(), ['--bind', bind, '--database-url', dbUrl, '--admin-token', ADMIN, ...extra], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
    });
    let out = '';
    const fail = (why) => {
      child.kill('SIGKILL');
      reject(new Error(why));
    };
    child.once('exit', (code) => reject(new Error(`the server exited (${code}) before listening: ${out}`)));
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const line = out.split('\n')[0];
      if (!out.includes('\n')) return;
      const match = /^palaver listening on (http:\/\/\S+)/.exec(line);
      if (!match) return fail(`unexpected first line: ${line}`);
      child.removeAllListeners('exit');
      child.stdout.removeAllListeners('data');
      child.stdout.resume();
      resolvePromise({ child, base: match[1] });
    });
  });
}

export class Server {
  static async start(backend, extra = []) {
    const db = database(backend);
    let last;
    for (let i = 0; i < 30; i += 1) {
      const port = 10_000 + Math.floor(Math.random() * 20_000);
      try {
        const { child, base } = await spawnOn(db.url, `127.0.0.1:${port}`, extra);
        return new Server(db, child, base, port, extra);
      } catch (error) {
        last = error;
      }
    }
    db.drop();
    throw last;
  }

  constructor(db, child, base, port, extra) {
    this.db = db;
    this.child = child;
    this.base = base;
    this.port = port;
    this.extra = extra;
  }

  /** kill -9, and wait for the process to be gone. */
  async kill() {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGKILL');
    await gone;
  }

  /** A new server on the same database and port. */
  async restart() {
    let last;
    for (let i = 0; i < 50; i += 1) {
      try {
        const { child } = await spawnOn(this.db.url, `127.0.0.1:${this.port}`, this.extra);
        this.child = child;
        return;
      } catch (error) {
        last = error;
        await sleep(100);
      }
    }
    throw last;
  }

  async stop() {
    await this.kill();
    this.db.drop();
  }

  async admin(method, path, body) {
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }

  /** A new user: { id, token }. */
  async user(name) {
    const { status, body } = await this.admin('POST', '/admin/users', { name });
    if (status !== 201) throw new Error(`POST /admin/users: ${status} ${JSON.stringify(body)}`);
    return { id: body.user.id, token: body.token };
  }

  /** Every stored message of a room, oldest first (through the admin API). */
  async messages(room) {
    const all = [];
    let before;
    for (;;) {
      const query = before ? `&before_seq=${before}` : '';
      const { status, body } = await this.admin('GET', `/admin/rooms/${room}/messages?limit=200${query}`);
      if (status !== 200) throw new Error(`messages: ${status} ${JSON.stringify(body)}`);
      all.unshift(...body.messages);
      if (!body.has_more || body.messages.length === 0) return all;
      before = body.messages[0].seq;
    }
  }
}

/**
 * A TCP proxy in front of the server: `cut()` destroys every connection at the TCP level
 * (RST where the platform can), as a network that went away does; `blackhole()` makes them carry
 * nothing and stay open, as a network that went silent does; `closeWith(code)` sends the
 * client a WebSocket close frame with that code, as the server does, then ends the connection.
 */
export class Proxy {
  static start(targetPort) {
    return new Promise((resolvePromise) => {
      const proxy = new Proxy(targetPort);
      proxy.server.listen(0, '127.0.0.1', () => {
        proxy.port = proxy.server.address().port;
        proxy.base = `http://127.0.0.1:${proxy.port}`;
        resolvePromise(proxy);
      });
    });
  }

  constructor(targetPort) {
    this.pairs = new Set();
    this.accepted = 0;
    this.server = net.createServer((client) => {
      if (this.refusing) {
        client.destroy();
        return;
      }
      this.accepted += 1;
      const upstream = net.connect(targetPort, '127.0.0.1');
      const pair = { client, upstream, upgraded: false };
      this.pairs.add(pair);
      client.on('data', (chunk) => {
        if (!pair.blackhole) upstream.write(chunk);
      });
      upstream.on('data', (chunk) => {
        if (!pair.swallow && !pair.blackhole) client.write(chunk);
      });
      const end = () => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      // In a black hole the server's close (after its heartbeats went unanswered) does not reach
      // the client either: the client must find out by itself.
      const upstreamEnded = () => (pair.blackhole ? this.pairs.delete(pair) : end());
      client.on('error', end);
      upstream.on('error', upstreamEnded);
      client.on('close', end);
      upstream.on('close', upstreamEnded);
    });
  }

  /** While `on`, every new connection is closed as soon as it is accepted (no way through). */
  refuse(on) {
    this.refusing = on;
  }

  /** Destroys every connection, both sides, with a TCP reset. */
  cut() {
    for (const pair of this.silenced ?? []) pair.client.destroy();
    const n = this.pairs.size;
    for (const { client, upstream } of [...this.pairs]) {
      client.resetAndDestroy ? client.resetAndDestroy() : client.destroy();
      upstream.destroy();
    }
    this.pairs.clear();
    return n;
  }

  /**
   * The network goes silent without closing anything (a phone that lost its signal): every
   * connection open now stops carrying bytes either way, and stays open. New ones work.
   */
  blackhole() {
    this.silenced = [...this.pairs];
    for (const pair of this.pairs) pair.blackhole = true;
    return this.pairs.size;
  }

  /** Sends each client a server close frame with `code` and ends its connection. */
  closeWith(code) {
    const n = this.pairs.size;
    for (const pair of [...this.pairs]) {
      pair.swallow = true;
      const frame = Buffer.from([0x88, 0x02, code >> 8, code & 0xff]);
      pair.client.end(frame);
      pair.upstream.destroy();
    }
    return n;
  }

  close() {
    this.cut();
    return new Promise((r) => this.server.close(r));
  }
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Waits until `check()` is truthy, or fails after `ms`. */
export async function until(check, ms = 15_000, what = 'the condition') {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** A small real PNG (w × h, RGB), for uploads. */
export function png(width = 4, height = 3) {
  const chunk = (type, data) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // RGB
  const rows = [];
  for (let y = 0; y < height; y += 1) {
    rows.push(Buffer.from([0]), Buffer.alloc(width * 3, 0x80 + y));
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
