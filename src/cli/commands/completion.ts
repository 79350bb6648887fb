// `xsoar-cert completion bash|zsh`: generated from the registered commands and their options,
// so it never drifts from the real flags.
import type { Command } from 'commander';
import { helpAfter } from '../help.js';

const FILE_FLAGS = /^--(cert|key|chain|ca|out|passphrase-file|kubeconfig|config|tenants-file|log-file|out-dir|from)$/;

export function completionScript(program: Command, shell: 'bash' | 'zsh'): string {
  const cmds = program.commands.map((c) => ({
    name: c.name(),
    flags: c.options.flatMap((o) => [o.long, o.short].filter(Boolean) as string[]),
  }));
  const fileFlags = [...new Set(cmds.flatMap((c) => c.flags.filter((f) => FILE_FLAGS.test(f))))];
  const cases = cmds.map((c) => `    ${c.name}) opts="${c.flags.join(' ')} --help" ;;`).join('\n');
  const bash = `# xsoar-cert bash completion: source it, or put it in /etc/bash_completion.d/xsoar-cert
_xsoar_cert() {
  local cur prev cmd opts
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cmd="\${COMP_WORDS[1]}"
  case "$prev" in
    ${fileFlags.join('|')}) COMPREPLY=( $(compgen -f -- "$cur") ); return 0 ;;
  esac
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${cmds.map((c) => c.name).join(' ')} --help --version" -- "$cur") )
    return 0
  fi
  case "$cmd" in
${cases}
    *) opts="" ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
  else
    COMPREPLY=( $(compgen -f -- "$cur") )
  fi
  return 0
}
complete -o filenames -F _xsoar_cert xsoar-cert
`;
  if (shell === 'bash') return bash;
  return `#compdef xsoar-cert
# xsoar-cert zsh completion: save as _xsoar-cert in a directory on $fpath, or eval it.
autoload -U +X bashcompinit && bashcompinit
${bash}`;
}

export function register(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script (bash or zsh)')
    .argument('<shell>', 'bash or zsh')
    .addHelpText(
      'after',
      helpAfter(
        'source <(xsoar-cert completion bash)',
        'xsoar-cert completion bash | sudo tee /etc/bash_completion.d/xsoar-cert',
        'xsoar-cert completion zsh > ~/.zfunc/_xsoar-cert',
      ),
    )
    .action(async (shell: string) => {
      if (shell !== 'bash' && shell !== 'zsh') {
        const { UsageError } = await import('../../errors.js');
        throw new UsageError(`completion supports bash and zsh, not "${shell}"`);
      }
      process.stdout.write(completionScript(program, shell));
    });
}
