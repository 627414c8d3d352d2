/** Health probes over loopback, each bounded by a short timeout and never throwing: a probe answers yes or no. */
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/** The HTTP status of a GET, or undefined when nothing answers in time. */
export async function httpStatus(url: string, timeoutMs = 2000): Promise<number | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return undefined;
  }
}

/**
 * Sends `request` on a fresh TCP (or TLS) connection and collects the reply until `complete` says it is whole.
 * Undefined when the port is closed, the peer hangs up early, or the timeout passes.
 */
export function tcpExchange(host: string, port: number, request: Buffer, complete: (reply: Buffer) => boolean, timeoutMs = 2000, tls?: { ca: Buffer }): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    // Over TLS the request goes once the handshake (with the server's certificate checked against `ca`) is done.
    const socket: Socket = tls ? tlsConnect({ host, port, ca: [tls.ca] }) : connect({ host, port });
    let reply = Buffer.alloc(0);
    const finish = (value: Buffer | undefined): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    socket.once(tls ? 'secureConnect' : 'connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      reply = Buffer.concat([reply, chunk]);
      if (complete(reply)) finish(reply);
    });
    socket.once('error', () => finish(undefined));
    socket.once('close', () => finish(complete(reply) ? reply : undefined));
  });
}

/** Whether anything accepts connections on the port (to tell "stopped" from "port taken by something else"). */
export function portInUse(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const finish = (value: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}
