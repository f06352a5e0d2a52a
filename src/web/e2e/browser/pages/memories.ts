// The memories page of an end-to-end account: everything is decrypted and
// searched in this browser (the ranking is src/vault/search.ts, the same as
// the server-key dashboard's and /mcp's). Changes are saved to this browser's
// ciphertext cache first and sent to the server when it can be reached, so
// the page keeps working offline.
import { announce, byId, confirmingButton, element, onSubmit, UserFacingError } from '../dom.ts';
import type { LocalClient } from '../client.ts';
import { type LiveStatus, replicaPage, type ReplicaView } from './live.ts';
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

export async function memoriesPage(): Promise<void> {
  await replicaPage((client, live) => new MemoriesView(client, live));
}

class MemoriesView implements ReplicaView {
  #query = '';
  #shown = PAGE;
  readonly #list = byId<HTMLUListElement>('memories');

  constructor(
    private readonly client: LocalClient,
    private readonly live: LiveStatus,
  ) {
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

  sync(): Promise<void> {
    return this.live.sync();
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
  }

  #item(memory: Memory): HTMLLIElement {
    const contentId = `memory-${memory.id}`;
    const tags = element('ul', { className: 'tags', attrs: { 'aria-label': 'Tags' } }, memory.tags.map((t) => element('li', {}, [element('span', { className: 'tag', text: t })])));
    const edit = element('button', { className: 'link', text: 'Edit', attrs: { type: 'button', 'aria-describedby': contentId } });
    const remove = confirmingButton('Delete', contentId, async () => {
      await this.client.deleteMemory(memory.id);
      announce('Memory deleted.', 'ok');
      await this.sync();
    });
    const item = element('li', { className: 'memory', attrs: { 'data-id': memory.id } }, [
      element('p', { className: 'content', text: memory.content, attrs: { id: contentId } }),
      element('div', { className: 'meta' }, [tags, element('span', { className: 'grow' }), when(memory.updated_at), element('span', { className: 'item-actions' }, [edit, remove])]),
    ]);
    edit.addEventListener('click', () => item.replaceWith(this.#editor(memory, item)));
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
