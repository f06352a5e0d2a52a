// The memory creates of each user that this process has started and that
// have not yet decided whether the index is due a merge. The memory index
// reads it to pace its merges (MemoryIndex.mergeIfDue): a create with more
// of its user's creates behind it lets more deltas gather, because one of
// those will merge them; the last of a burst sees none behind it and merges
// at the usual threshold. It holds user ids and counts, nothing sealed and
// no key, and lives as long as the process: it is shared by every request,
// like the store's queues, and forgets a user as soon as no create of theirs
// is on its way. Each process counts its own creates only; another process's
// merge of the same user is met by the user lock, as before.
const pending = new Map<string, number>();

/** A create on its way: `checked` says it has reached its merge decision (or failed before it); only the first call counts. */
export interface CreateOnItsWay {
  checked(): void;
}

export function startCreate(userId: string): CreateOnItsWay {
  pending.set(userId, (pending.get(userId) ?? 0) + 1);
  let done = false;
  return {
    checked() {
      if (done) return;
      done = true;
      const left = pending.get(userId)! - 1;
      if (left === 0) pending.delete(userId);
      else pending.set(userId, left);
    },
  };
}

/** The user's creates that will still decide on a merge after the caller has. */
export function createsStillToCheck(userId: string): number {
  return pending.get(userId) ?? 0;
}
