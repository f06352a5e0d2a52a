// What every page over this browser's replica shares (memories, graph): one
// tab at a time holds the replica, the copy opens from IndexedDB (offline
// too), the sync status line, and syncing on load, on reconnecting, on
// returning to the tab and every half minute.
import { announce, byId, describe } from '../dom.ts';
import { type LocalClient, LoggedOut, openLocalClient } from '../client.ts';

/**
 * One tab at a time holds this browser's replica: two tabs would each keep
 * their own queue of writes in one cache. The lock lasts as long as the page.
 */
function holdTheReplica(): Promise<boolean> {
  return new Promise((resolve) => {
    void navigator.locks.request('anamnesis-e2e-replica', { ifAvailable: true }, (lock) => {
      resolve(lock !== null);
      return lock ? new Promise<void>(() => undefined) : undefined;
    });
  });
}

/** A page that shows and changes this browser's copy of the account. */
export interface ReplicaView {
  render(): void;
}

/** Opens this browser's copy for `makeView` and keeps it in step with the server. */
export async function replicaPage(makeView: (client: LocalClient, live: LiveStatus) => ReplicaView): Promise<void> {
  const status = byId('sync-status');
  if (!(await holdTheReplica())) {
    status.textContent = 'Your account is open in another tab of this browser. Use that tab, or close it and reload this one.';
    for (const fieldset of document.querySelectorAll<HTMLFieldSetElement>('fieldset')) fieldset.disabled = true;
    return;
  }
  let client: LocalClient | null;
  try {
    client = await openLocalClient();
  } catch (error) {
    // A cached token that no longer opens (a damaged cache, or one the server tampered with): nothing is shown from it.
    status.textContent = 'This browser\'s copy of your account could not be opened and checked. Log out and log in again to fetch a fresh copy from the server.';
    throw error;
  }
  if (!client) {
    location.replace('/e2e/login');
    return;
  }
  const live = new LiveStatus(client, status);
  const view = makeView(client, live);
  view.render();
  live.show();
  client.onChange(() => {
    view.render();
    live.show();
  });
  await live.sync();
  // Changes from other devices arrive on reconnecting, on returning to the tab, and every half minute.
  window.addEventListener('online', () => void live.sync());
  window.addEventListener('offline', () => live.show());
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') void live.sync();
  });
  setInterval(() => void live.sync(), 30_000);
}

/** The status line: synced, syncing, or offline with how many changes wait. */
export class LiveStatus {
  constructor(
    private readonly client: LocalClient,
    private readonly status: HTMLElement,
  ) {}

  async sync(): Promise<void> {
    const syncing = this.client.sync();
    this.show();
    try {
      await syncing;
    } catch (error) {
      announce(describe(error), 'error');
      if (error instanceof LoggedOut) location.assign('/e2e/login');
    }
    this.show();
  }

  show(): void {
    const pending = this.client.pendingCount();
    const state = navigator.onLine ? this.client.syncState() : 'offline';
    const waiting = pending === 0 ? '' : ` ${pending} change${pending === 1 ? '' : 's'} waiting to be sent.`;
    this.status.textContent = state === 'offline'
      ? `Offline: your changes are kept in this browser, encrypted.${waiting}`
      : state === 'syncing' || pending > 0 ? `Syncing with the server…${waiting}` : `Synced. Logged in as ${this.client.email}.`;
    this.status.dataset.state = state === 'synced' && pending === 0 ? 'synced' : state;
  }
}
