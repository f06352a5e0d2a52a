// Export downloads and the import of a reference memory.jsonl. The file
// picker is shown by app.js, which reads the file into the paste box; without
// JavaScript the file's text is pasted by hand. Either way it is one form POST.
import type { ImportReport } from '../../vault/transfer.ts';
import { html } from '../html.ts';
import { csrfField, layout, type Notice, type PageContext } from './layout.ts';

export function importResult(report: ImportReport): Notice {
  const { imported, skipped, errors } = report;
  const skippedTotal = skipped.entities + skipped.relations + skipped.memories;
  return {
    kind: errors.length > 0 ? 'warn' : 'ok',
    text: html`<p><strong>Import finished.</strong> Imported ${imported.entities} entities, ${imported.relations} relations and ${imported.observations} observations into existing entities${skippedTotal > 0 ? html`; ${skippedTotal} already present were left as they were` : ''}.</p>
${errors.length > 0 ? html`<p>${errors.length} line(s) could not be imported and were skipped:</p><ul>${errors.slice(0, 20).map((e) => html`<li>Line ${e.line}: ${e.message}</li>`)}</ul>${errors.length > 20 ? html`<p>…and ${errors.length - 20} more.</p>` : ''}` : ''}`,
  };
}

export function dataView(ctx: PageContext, notice?: Notice) {
  return layout(ctx, {
    title: 'Import & export',
    notice,
    body: html`<h1>Import &amp; export</h1>
<section class="card">
  <h2>Export</h2>
  <p><a class="button secondary" href="/api/v1/export?format=encrypted" download>Download encrypted export</a>
     <a class="button secondary" href="/api/v1/export?format=json" download>Download plaintext JSON</a></p>
  <p class="small muted">The encrypted export is the stored ciphertext, one Fernet token per line: only your API key opens it (see <a href="/security#python-reproduction">how to decrypt it yourself</a>). The plaintext export is readable by anyone who has the file: keep it safe.</p>
</section>
<section class="card">
  <h2>Import a memory.jsonl</h2>
  <p>The knowledge graph file of the reference MCP memory server (<code>@modelcontextprotocol/server-memory</code>). Entities already here get the new observations; nothing existing is overwritten. The import is all or nothing.</p>
  <form method="post" action="/app/data/import" data-long-operation="Importing" data-count-lines-of="jsonl">
    ${csrfField(ctx)}
    <div hidden><label for="file">Choose the file</label><input id="file" type="file" accept=".jsonl,.json,.txt,application/x-ndjson,text/plain" data-fill="jsonl"></div>
    <label for="jsonl">File contents <span class="hint">Or paste the lines of memory.jsonl here.</span></label>
    <textarea id="jsonl" name="jsonl" class="jsonl" required spellcheck="false"></textarea>
    <div class="actions"><button type="submit">Import</button></div>
    <div class="progress" hidden><progress aria-label="Import in progress"></progress><p data-status></p></div>
  </form>
</section>`,
  });
}
