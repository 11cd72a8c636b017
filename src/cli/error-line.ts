/**
 * The line a failed command prints: `nbrewind-engine COMMAND: message`.
 * Messages thrown below the CLI often name the command themselves (they are
 * also read by library callers, who have no prefix); the prefix is not
 * repeated when the message already starts with it.
 */
export function errorLine(command: string, message: string): string {
  const own = `${command}: `;
  let text = message;
  while (text.startsWith(own)) text = text.slice(own.length);
  return `nbrewind-engine ${command}: ${text}`;
}
