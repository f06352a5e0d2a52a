// The local MCP server's tools over a replica held only in memory, reached by
// the MCP SDK's own Client through its in-memory transport: the tool layer
// and the local operations are the real ones, only the ciphertext cache and
// the network are left out, so a parity test can run hundreds of calls fast.
// Ids are keyed as docs/e2e-protocol.md §2 says, under a random key.
import { createHmac, randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import pino from 'pino';
import { localOperations } from '../../src/local/operations.ts';
import { LocalRecords } from '../../src/local/records.ts';
import { createMcpServer } from '../../src/mcp/server.ts';

export async function connectInProcessLocal(): Promise<{ client: Client; records: LocalRecords; close(): Promise<void> }> {
  const key = randomBytes(32);
  const keyed = (text: string) => 'e_' + createHmac('sha256', key).update(text).digest().subarray(0, 18).toString('base64url');
  const records = new LocalRecords();
  const operations = localOperations({
    records,
    ids: {
      entity: async (name) => keyed(`entity\n${name}`),
      relation: async (r) => keyed(`relation\n${r.from}\n${r.to}\n${r.relationType}`),
    },
    commit: async (changes) => records.apply(changes),
  });
  const context = { operations, log: pino({ level: 'silent' }) };
  const server = createMcpServer(() => context, { name: 'anamnesis-local', version: '1.0.0' });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'anamnesis-test', version: '1.0.0' });
  await client.connect(clientSide);
  return {
    client,
    records,
    async close() {
      await client.close();
      await server.close();
    },
  };
}
