// The conflict rules of docs/e2e-protocol.md §4 on their own: whatever two
// devices did to one id, neither side's content is lost.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CONFLICT_TAG, resolveConflict } from '../../src/e2e-client/conflicts.ts';
import type { EntityRecord, MemoryRecord, RelationRecord } from '../../src/vault/records.ts';

const memory = (content: string, updatedAt: string, tags = ['work']): MemoryRecord => ({ kind: 'memory', id: 'm1', content, tags, created_at: '2026-01-01T00:00:00.000Z', updated_at: updatedAt });
const entity = (entityType: string, observations: string[]): EntityRecord => ({ kind: 'entity', name: 'Ada', entityType, observations });
const relation: RelationRecord = { kind: 'relation', from: 'Ada', to: 'Engine', relationType: 'wrote about' };
let n = 0;
const newId = () => `copy-${++n}`;

describe('conflict rules', () => {
  it('a memory edited on both: the later edit stays in place, the other becomes a new memory tagged conflict', () => {
    const server = memory('server text', '2026-01-02T10:00:00.000Z');
    const local = memory('local text', '2026-01-02T11:00:00.000Z', ['work', 'home']);
    const localLater = resolveConflict(server, local, newId);
    assert.deepEqual(localLater.outcome, { keep: 'merged', record: local });
    assert.equal(localLater.copies.length, 1);
    assert.equal(localLater.copies[0]!.content, 'server text');
    assert.deepEqual(localLater.copies[0]!.tags, ['work', CONFLICT_TAG]);
    assert.notEqual(localLater.copies[0]!.id, 'm1');

    const serverLater = resolveConflict(memory('server text', '2026-01-02T12:00:00.000Z'), local, newId);
    assert.deepEqual(serverLater.outcome, { keep: 'server' });
    assert.equal(serverLater.copies[0]!.content, 'local text');
    assert.deepEqual(serverLater.copies[0]!.tags, ['work', 'home', CONFLICT_TAG]);
  });

  it('a memory edited to the same text on both needs no copy', () => {
    const r = resolveConflict(memory('same', '2026-01-02T10:00:00.000Z'), memory('same', '2026-01-02T11:00:00.000Z'), newId);
    assert.deepEqual(r, { outcome: { keep: 'server' }, copies: [] });
  });

  it('an edit beats a delete, on either side', () => {
    const edit = memory('kept', '2026-01-02T10:00:00.000Z');
    assert.deepEqual(resolveConflict(null, edit, newId), { outcome: { keep: 'merged', record: edit }, copies: [] });
    assert.deepEqual(resolveConflict(edit, null, newId), { outcome: { keep: 'server' }, copies: [] });
    assert.deepEqual(resolveConflict(null, null, newId), { outcome: { keep: 'server' }, copies: [] });
    const e = entity('person', ['x']);
    assert.deepEqual(resolveConflict(null, e, newId).outcome, { keep: 'merged', record: e });
  });

  it('entities merge: observations are the union in order, the entityType is this device\'s', () => {
    const r = resolveConflict(entity('person', ['a', 'b', 'c']), entity('mathematician', ['a', 'd', 'c', 'e']), newId);
    assert.deepEqual(r.outcome, { keep: 'merged', record: entity('mathematician', ['a', 'b', 'c', 'd', 'e']) });
    assert.deepEqual(r.copies, []);
    // Nothing new on this side: the server's record already holds everything.
    assert.deepEqual(resolveConflict(entity('person', ['a', 'b']), entity('person', ['b']), newId).outcome, { keep: 'server' });
  });

  it('a relation is present if either side has it', () => {
    assert.deepEqual(resolveConflict(relation, relation, newId).outcome, { keep: 'server' });
    assert.deepEqual(resolveConflict(null, relation, newId).outcome, { keep: 'merged', record: relation });
    assert.deepEqual(resolveConflict(relation, null, newId).outcome, { keep: 'server' });
  });
});
