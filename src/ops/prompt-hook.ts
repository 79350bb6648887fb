// The one question ops may need answered by a person: a passphrase. The cli registers how to ask
// (an inquirer prompt on the terminal); without it, nobody is asked. No imports: main.ts
// registers it before anything heavy is loaded.
type Ask = (forFile: string) => Promise<string | undefined>;
let ask: Ask | undefined;

export function setPassphrasePrompt(fn: Ask | undefined): void {
  ask = fn;
}

export function askPassphrase(forFile: string): Promise<string | undefined> {
  return ask ? ask(forFile) : Promise.resolve(undefined);
}
