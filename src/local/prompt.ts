// Asking the user at a terminal: a line, or a secret whose typing is not
// echoed. Outside a terminal nothing is asked: the caller says which
// environment variable to set instead.
import readline from 'node:readline';
import { Writable } from 'node:stream';

export class NoTerminal extends Error {
  constructor(variable: string) {
    super(`no terminal to ask at: set ${variable}`);
    this.name = 'NoTerminal';
  }
}

/** Reads one line from the terminal on stderr (stdout may be the MCP stream); `secret` hides the typing. */
export async function ask(question: string, options: { secret?: boolean; variable: string }): Promise<string> {
  if (!process.stdin.isTTY) throw new NoTerminal(options.variable);
  let muted = false;
  const output = new Writable({
    write(chunk, _encoding, done) {
      if (!muted) process.stderr.write(chunk);
      done();
    },
  });
  const rl = readline.createInterface({ input: process.stdin, output, terminal: true });
  try {
    return await new Promise<string>((resolve) => {
      rl.question(question, (answer) => {
        if (options.secret) process.stderr.write('\n');
        resolve(answer);
      });
      muted = options.secret === true;
    });
  } finally {
    rl.close();
  }
}
