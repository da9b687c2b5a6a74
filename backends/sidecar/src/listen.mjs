// Binding the sidecar's listener safely: a private Unix socket, or loopback TCP.
//
// Unix mode: the socket's directory must be owner-only (0700) — created if missing, refused if
// anyone else can use it — and the socket file is created 0600 (umask set before `listen`, so it
// is never open to others, even briefly). A stale socket file nobody accepts on is replaced; a
// live one belongs to another server and is never taken over.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** How long a connect probe may take before a socket counts as live (a busy server is live). */
const PROBE_TIMEOUT_MS = 1000;
/** `sun_path` is 108 bytes on Linux, including the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;

export class ListenError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ListenError';
  }
}

export async function listenUnix(server, socketPath) {
  const absolute = path.resolve(socketPath);
  if (Buffer.byteLength(absolute) > MAX_SOCKET_PATH_BYTES) {
    throw new ListenError(
      `socket path ${absolute} is ${Buffer.byteLength(absolute)} bytes; Unix sockets allow ${MAX_SOCKET_PATH_BYTES}: choose a shorter path`,
    );
  }
  ensurePrivateDirectory(path.dirname(absolute));
  await removeStaleSocket(absolute);

  const previousUmask = process.umask(0o177);
  try {
    await listen(server, { path: absolute });
  } catch (error) {
    if (error.code === 'EADDRINUSE') {
      throw new ListenError(`${absolute} was taken by another process while starting; not stealing it`);
    }
    throw error;
  } finally {
    process.umask(previousUmask);
  }
  fs.chmodSync(absolute, 0o600);
  return `unix:${absolute}`;
}

export async function listenHttp(server, port, host = '127.0.0.1') {
  await listen(server, { host, port });
  return `http://${host}:${server.address().port}`;
}

/**
 * Serves on an inherited listening TCP socket; its address is whatever it was bound to. A
 * runtime that ignores `fd` (Bun 1.4 opens a socket of its own on `::` instead, which the host
 * refuses) serves on loopback like `listenHttp`, without the socket's buffer sizes.
 */
export async function listenOnFd(server, fd) {
  await listen(server, { fd });
  const { address, port } = server.address();
  if (address === '127.0.0.1' || address === '::1') {
    return `http://${address === '::1' ? '[::1]' : address}:${port}`;
  }
  await new Promise((resolve) => server.close(resolve));
  return listenHttp(server, 0);
}

/** Writes the port so that a reader sees either no file or the whole number, never a part. */
export function writePortFile(file, port) {
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, String(port), { mode: 0o600 });
  fs.renameSync(temporary, file);
}

function ensurePrivateDirectory(directory) {
  let stat;
  try {
    stat = fs.lstatSync(directory);
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
    fs.mkdirSync(directory, { recursive: true, mode: 0o700 });
    stat = fs.lstatSync(directory);
  }
  if (!stat.isDirectory()) {
    throw new ListenError(`socket directory ${directory} is not a directory (symlinks are refused)`);
  }
  const uid = process.getuid();
  if (stat.uid !== uid) {
    throw new ListenError(`socket directory ${directory} belongs to uid ${stat.uid}, not to us (uid ${uid}); use a directory of your own`);
  }
  const mode = stat.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new ListenError(
      `socket directory ${directory} has mode ${mode.toString(8).padStart(4, '0')}: others can use it; ` +
        'chmod 700 it or point LEANSPEC_CHAT_SOCKET into a directory only you can enter',
    );
  }
}

async function removeStaleSocket(socketPath) {
  let stat;
  try {
    stat = fs.lstatSync(socketPath);
  } catch (error) {
    if (error.code === 'ENOENT') return;
    throw error;
  }
  if (!stat.isSocket()) {
    throw new ListenError(`${socketPath} exists and is not a socket; not removing it`);
  }
  if (await isLive(socketPath)) {
    throw new ListenError(`another process is serving on ${socketPath}; stop it or choose another path`);
  }
  fs.unlinkSync(socketPath);
}

function isLive(socketPath) {
  return new Promise((resolve) => {
    const probe = net.connect({ path: socketPath });
    const finish = (live) => {
      probe.destroy();
      resolve(live);
    };
    probe.setTimeout(PROBE_TIMEOUT_MS, () => finish(true));
    probe.once('connect', () => finish(true));
    // ECONNREFUSED: the file is there but nobody accepts: stale.
    probe.once('error', (error) => finish(error.code !== 'ECONNREFUSED' && error.code !== 'ENOENT'));
  });
}

function listen(server, options) {
  return new Promise((resolve, reject) => {
    const onError = (error) => reject(error);
    server.once('error', onError);
    server.listen(options, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
