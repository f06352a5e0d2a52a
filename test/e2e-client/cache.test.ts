// The reference ReplicaCache against the cache contract every device's cache runs.
import { MemoryReplicaCache } from '../../src/e2e-client/cache.ts';
import { replicaCacheConformance } from './cache-conformance.ts';

replicaCacheConformance('in memory', async () => {
  const cache = new MemoryReplicaCache();
  return { cache, reopen: async () => cache, close: async () => {} };
});
