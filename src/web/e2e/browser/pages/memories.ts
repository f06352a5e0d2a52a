// The memories page of an end-to-end account: everything is decrypted and
// searched in this browser (the ranking is src/vault/search.ts, the same as
// the server-key dashboard's and /mcp's). Changes are saved to this browser's
// ciphertext cache first and sent to the server when it can be reached, so
// the page keeps working offline.
import { announce, byId, describe, element, onSubmit, UserFacingError } from '../dom.ts';
import { type LocalClient, LoggedOut, openLocalClient } from '../client.ts';
import { download, parseImport, type Memory } from '../transfer.ts';

const SEARCH_LIMIT = 50;
/** Memories listed at first, and added by each "Show more": the page stays quick with thousands. */
const PAGE = 100;

function splitTags(text: string): string[] {
  return text.split(',').map((t) => t.trim()).filter(Boolean);
}

function when(iso: string): HTMLTimeElement {
  return element('time', { text: `${iso.slice(0, 16).replace('T', ' ')} UTC`, attrs: { datetime: iso } });
}

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

export async function memoriesPage(): Promise<void> {
  if (!(await holdTheReplica())) {
    byId('sync-status').textContent = 'Your memories are open in another tab of this browser. Use that tab, or close it and reload this one.';
    for (const fieldset of document.querySelectorAll<HTMLFieldSetElement>('fieldset')) fieldset.disabled = true;
    return;
  }
  let client: LocalClient | null;
  try {
    client = await openLocalClient();
  } catch (error) {
    // A cached token that no longer opens (a damaged cache, or one the server tampered with): nothing is shown from it.
    byId('sync-status').textContent = 'This browser\'s copy of your memories could not be opened and checked. Log out and log in again to fetch a fresh copy from the server.';
    throw error;
  }
  if (!client) {
    location.replace('/e2e/login');
    return;
  }
  const view = new MemoriesView(client);
  view.render();
  client.onChange(() => view.render());
  await view.sync();
  // Changes from other devices arrive on reconnecting, on returning to the tab, and every half minute.
  window.addEventListener('online', () => void view.sync());
  window.addEventListener('offline', () => view.showStatus());
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') void view.sync();
  });
  setInterval(() => void view.sync(), 30_000);
}

class MemoriesView {
  #query = '';
  #shown = PAGE;
  readonly #list = byId<HTMLUListElement>('memories');
  readonly #status = byId('sync-status');

  constructor(private readonly client: LocalClient) {
    onSubmit(byId<HTMLFormElement>('memory-form'), async () => {
      const form = byId<HTMLFormElement>('memory-form');
      const content = byId<HTMLTextAreaElement>('content').value;
      if (!content.trim()) throw new UserFacingError('Write something to remember first.');
      await this.client.createMemory(content, splitTags(byId<HTMLInputElement>('tags').value));
      form.reset();
      announce('Memory saved.', 'ok');
      await this.sync();
    });
    onSubmit(byId<HTMLFormElement>('search-form'), async () => {
      this.#query = byId<HTMLInputElement>('q').value.trim();
      this.render();
    });
    byId('show-more').addEventListener('click', () => {
      this.#shown += PAGE;
      this.render();
    });
    byId('search-clear').addEventListener('click', () => {
      byId<HTMLInputElement>('q').value = '';
      this.#query = '';
      this.render();
    });
    byId('export').addEventListener('click', () => {
      download(`anamnesis-export-${new Date().toISOString().slice(0, 10)}.json`, this.client.exportData());
      announce('The export was made in this browser and saved as a file.', 'ok');
    });
    onSubmit(byId<HTMLFormElement>('import-form'), async () => {
      const file = byId<HTMLInputElement>('import-file').files?.[0];
      if (!file) throw new UserFacingError('Choose a file to import first.');
      const report = await this.client.importData(parseImport(await file.text()));
      byId<HTMLFormElement>('import-form').reset();
      announce(`Imported ${report.memories} memories, ${report.entities} entities and ${report.relations} relations; ${report.skipped} already here.`, 'ok');
      await this.sync();
    });
    this.#deleteAccountForm();
  }

  #deleteAccountForm(): void {
    const form = byId<HTMLFormElement>('delete-account-form');
    onSubmit(form, async () => {
      if (byId<HTMLInputElement>('delete-confirm').value.trim().toLowerCase() !== 'delete') throw new UserFacingError('Type delete to confirm.');
      await this.client.deleteAccount();
      location.assign('/e2e/signup');
    });
  }

  async sync(): Promise<void> {
    const syncing = this.client.sync();
    this.showStatus();
    try {
      await syncing;
    } catch (error) {
      announce(describe(error), 'error');
      if (error instanceof LoggedOut) location.assign('/e2e/login');
    }
    this.showStatus();
  }

  showStatus(): void {
    const pending = this.client.pendingCount();
    const state = navigator.onLine ? this.client.syncState() : 'offline';
    const waiting = pending === 0 ? '' : ` ${pending} change${pending === 1 ? '' : 's'} waiting to be sent.`;
    this.#status.textContent = state === 'offline'
      ? `Offline: your changes are kept in this browser, encrypted.${waiting}`
      : state === 'syncing' || pending > 0 ? `Syncing with the server…${waiting}` : `Synced. Logged in as ${this.client.email}.`;
    this.#status.dataset.state = state === 'synced' && pending === 0 ? 'synced' : state;
  }

  render(): void {
    const all: Memory[] = this.#query ? this.client.search(this.#query, SEARCH_LIMIT).map((hit) => hit.memory) : this.client.memories();
    const memories = all.slice(0, this.#shown);
    byId('results').textContent = this.#query ? `Results for “${this.#query}”` : 'Newest first';
    byId('search-clear').hidden = !this.#query;
    const more = byId('show-more');
    more.hidden = all.length <= memories.length;
    more.textContent = `Show more (${(all.length - memories.length).toLocaleString()} older)`;
    this.#list.replaceChildren(...memories.map((memory) => this.#item(memory)));
    if (memories.length === 0) this.#list.append(element('li', { className: 'muted', text: this.#query ? 'Nothing matches.' : 'No memories yet. Add one above.' }));
    this.showStatus();
  }

  #item(memory: Memory): HTMLLIElement {
    const contentId = `memory-${memory.id}`;
    const tags = element('ul', { className: 'tags', attrs: { 'aria-label': 'Tags' } }, memory.tags.map((t) => element('li', {}, [element('span', { className: 'tag', text: t })])));
    const edit = element('button', { className: 'link', text: 'Edit', attrs: { type: 'button', 'aria-describedby': contentId } });
    const remove = element('button', { className: 'link', text: 'Delete', attrs: { type: 'button', 'aria-describedby': contentId } });
    const item = element('li', { className: 'memory', attrs: { 'data-id': memory.id } }, [
      element('p', { className: 'content', text: memory.content, attrs: { id: contentId } }),
      element('div', { className: 'meta' }, [tags, element('span', { className: 'grow' }), when(memory.updated_at), element('span', { className: 'item-actions' }, [edit, remove])]),
    ]);
    edit.addEventListener('click', () => item.replaceWith(this.#editor(memory, item)));
    remove.addEventListener('click', async () => {
      // Two clicks, no dialog: the first asks, the second deletes.
      if (remove.dataset.armed !== 'true') {
        remove.dataset.armed = 'true';
        remove.textContent = 'Confirm delete';
        remove.classList.add('danger');
        return;
      }
      try {
        await this.client.deleteMemory(memory.id);
        announce('Memory deleted.', 'ok');
        await this.sync();
      } catch (error) {
        announce(describe(error), 'error');
      }
    });
    return item;
  }

  #editor(memory: Memory, item: HTMLLIElement): HTMLLIElement {
    const content = element('textarea', { attrs: { id: `edit-content-${memory.id}`, name: 'content', required: '' } });
    content.value = memory.content;
    const tags = element('input', { attrs: { id: `edit-tags-${memory.id}`, name: 'tags', type: 'text', autocomplete: 'off' } });
    tags.value = memory.tags.join(', ');
    const cancel = element('button', { className: 'link', text: 'Cancel', attrs: { type: 'button' } });
    const form = element('form', { className: 'edit-form' }, [
      element('label', { text: 'Memory', attrs: { for: content.id } }), content,
      element('label', { text: 'Tags', attrs: { for: tags.id } }), tags,
      element('div', { className: 'actions' }, [element('button', { text: 'Save changes', attrs: { type: 'submit' } }), cancel]),
    ]);
    const editor = element('li', { className: 'memory', attrs: { 'data-id': memory.id, 'data-editing': 'true' } }, [form]);
    cancel.addEventListener('click', () => editor.replaceWith(item));
    onSubmit(form, async () => {
      if (!content.value.trim()) throw new UserFacingError('A memory cannot be empty; delete it instead.');
      await this.client.updateMemory(memory.id, content.value, splitTags(tags.value));
      announce('Memory saved.', 'ok');
      await this.sync();
    });
    queueMicrotask(() => content.focus());
    return editor;
  }
}
