/**
 * The line a failed command prints: `nbrewind-engine COMMAND: message`.
 * Messages thrown below the CLI often name the command themselves (they are
 * also read by library callers, who have no prefix); the prefix is not
 * repeated when the message already starts with it. A subcommand's message
 * (`keys trust: …`, `cache gc: …`) becomes the prefix itself:
 * `nbrewind-engine keys trust: …`, not `nbrewind-engine keys: keys trust: …`.
 */
export function errorLine(command: string, message: string): string {
  const own = `${command}: `;
  let text = message;
  while (text.startsWith(own)) text = text.slice(own.length);
  const sub = /^([a-z]+(?:-[a-z]+)*): /.exec(text.startsWith(`${command} `) ? text.slice(command.length + 1) : "");
  if (sub) return `nbrewind-engine ${command} ${sub[1]}: ${text.slice(command.length + 1 + sub[0].length)}`;
  return `nbrewind-engine ${command}: ${text}`;
}
