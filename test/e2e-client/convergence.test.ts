// Rounds of random offline work on two devices of one account (edits,
// deletes and re-creations of a small shared set of memories, observations
// added to shared entities), each round ended by syncing both: after every
// round the devices hold the same records, and every memory text a device
// ended the round with, and every observation either added, is still there.
// A fixed seed makes a failure reproducible.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { logIn, signUp } from '../../src/e2e-client/account.ts';
import type { Replica } from '../../src/e2e-client/replica.ts';
import type { EntityRecord, MemoryRecord } from '../../src/vault/records.ts';
import { testDrivers } from '../http/support.ts';
import { PASSWORD, device, newEmail, serve, type Served } from './with-server.ts';

/** mulberry32: a small seeded generator, so a failing round can be replayed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ROUNDS = 4;
const OPS = 12;
const MEMORY_IDS = ['00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000003', '00000000-0000-4000-8000-000000000004'];
const ENTITIES = ['Ada', 'Grace'];

function state(replica: Replica): string {
  return JSON.stringify([...replica.records()].map(([id, r]) => [id, r.record]).sort(([a], [b]) => String(a).localeCompare(String(b))));
}

for (const driver of await testDrivers('end-to-end client core convergence')) {
  describe(`random offline rounds on two devices converge with nothing lost (${driver})`, () => {
    let s: Served;
    before(async () => {
      s = await serve(driver);
    });
    after(() => s.close());

    it(`${ROUNDS} rounds of ${OPS} random operations per device`, async () => {
      const random = seeded(20261203);
      const email = newEmail();
      const devices = [await device(s.api, await signUp(s.api, { email, password: PASSWORD })), await device(s.api, await logIn(s.api, { email, password: PASSWORD }))] as const;
      let clock = 0;
      for (let round = 1; round <= ROUNDS; round++) {
        const mustRemain: string[] = [];
        const observations: Array<[string, string]> = [];
        for (const [d, replica] of devices.entries()) {
          const written = new Set<string>();
          for (let op = 0; op < OPS; op++) {
            const pick = random();
            const id = MEMORY_IDS[Math.floor(random() * MEMORY_IDS.length)]!;
            if (pick < 0.55) {
              const content = `round ${round}, device ${d}, op ${op}`;
              const before = replica.get(id)?.record as MemoryRecord | undefined;
              await replica.put({ kind: 'memory', id, content, tags: ['t'], created_at: before?.created_at ?? new Date(Date.UTC(2026, 0, 1)).toISOString(), updated_at: new Date(Date.UTC(2026, 0, 1, 0, 0, ++clock)).toISOString() });
              written.add(id);
            } else if (pick < 0.75) {
              await replica.delete(id);
              written.delete(id);
            } else {
              const name = ENTITIES[Math.floor(random() * ENTITIES.length)]!;
              const before = replica.get(await replica.entityId(name))?.record as EntityRecord | undefined;
              const observation = `round ${round}, device ${d}, op ${op}`;
              observations.push([name, observation]);
              await replica.put({ kind: 'entity', name, entityType: `type from device ${d}`, observations: [...(before?.observations ?? []), observation] });
            }
          }
          // The memory texts this device wrote this round and did not delete again must survive the merge.
          for (const id of written) mustRemain.push((replica.get(id)?.record as MemoryRecord).content);
        }
        await devices[0].sync();
        await devices[1].sync();
        await devices[0].sync();
        assert.equal(state(devices[0]), state(devices[1]), `round ${round}: the devices differ`);
        const contents = new Set([...devices[0].records()].flatMap(([, r]) => (r.record.kind === 'memory' ? [r.record.content] : [])));
        for (const content of mustRemain) assert.ok(contents.has(content), `round ${round}: "${content}" was lost`);
        for (const [name, observation] of observations) {
          const entity = devices[0].get(await devices[0].entityId(name))?.record as EntityRecord | undefined;
          assert.ok(entity?.observations.includes(observation), `round ${round}: observation "${observation}" of ${name} was lost`);
        }
      }
    });
  });
}
