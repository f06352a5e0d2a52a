// The browser client of end-to-end mode: one entry point, bundled by
// ../bundle.ts and loaded with Subresource Integrity. The page says which
// part it needs in <div id="e2e" data-e2e-page>.
import { logOut } from './client.ts';
import { announce, describe, enableForms } from './dom.ts';
import { loginPage, recoverPage, signupPage } from './pages/account.ts';
import { graphPage } from './pages/graph.ts';
import { memoriesPage } from './pages/memories.ts';
import { switchPage } from './pages/switch.ts';

const PAGES: Record<string, () => void | Promise<void>> = {
  signup: signupPage,
  login: loginPage,
  recover: recoverPage,
  app: memoriesPage,
  graph: graphPage,
  switch: switchPage,
};

async function start(): Promise<void> {
  for (const button of document.querySelectorAll<HTMLButtonElement>('[data-e2e-logout]')) {
    button.addEventListener('click', async () => {
      try {
        await logOut();
        location.assign('/e2e/login');
      } catch (error) {
        announce(describe(error), 'error');
      }
    });
  }
  const page = document.getElementById('e2e')?.dataset.e2ePage;
  const run = page ? PAGES[page] : undefined;
  if (!run) return;
  enableForms();
  try {
    await run();
  } catch (error) {
    announce(describe(error), 'error');
  }
}

void start();
