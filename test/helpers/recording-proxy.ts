// A TCP relay on 127.0.0.1 that keeps every byte it passes, both ways: the
// tests put it between a client and the server to scan what actually crossed
// the wire (the server's whole traffic) for plaintext and keys.
import net from 'node:net';

export interface RecordingProxy {
  /** `http://127.0.0.1:<port>`: point the client here instead of at the server. */
  url: string;
  /** Everything the clients sent and the server answered so far, in arrival order. */
  traffic(): Buffer;
  close(): Promise<void>;
}

export async function startRecordingProxy(target: { host: string; port: number }): Promise<RecordingProxy> {
  const chunks: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    track(client);
    track(upstream);
    client.on('data', (data: Buffer) => {
      chunks.push(Buffer.from(data));
      upstream.write(data);
    });
    upstream.on('data', (data: Buffer) => {
      chunks.push(Buffer.from(data));
      client.write(data);
    });
    // Either side ending or failing ends the pair, as a direct connection would.
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    traffic: () => Buffer.concat(chunks),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
