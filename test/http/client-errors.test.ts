// Requests Node's HTTP parser cannot read never reach a route; they must still
// be answered in the documented error shape, not the framework's own.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { makeTestApp, type TestApp } from '../helpers/app.ts';
import { sendRaw } from './support.ts';

describe('unparseable requests', () => {
  let t: TestApp;
  let port: number;
  before(async () => {
    t = await makeTestApp();
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.server.address() as net.AddressInfo).port;
  });
  after(async () => t.close());

  for (const [what, raw] of [
    ['a request line that is not HTTP', 'GARBAGE\r\n\r\n'],
    ['both Transfer-Encoding and Content-Length', 'DELETE /api/v1/sessions/current HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello'],
  ] as const) {
    it(`answers ${what} with 400 in the JSON error shape`, async () => {
      const answer = await sendRaw(port, raw);
      const [head, body] = answer.split('\r\n\r\n');
      assert.match(head!, /^HTTP\/1\.1 400 /);
      assert.deepEqual(JSON.parse(body!), { error: { code: 'bad_request', message: 'the request could not be read' } });
    });
  }
});
