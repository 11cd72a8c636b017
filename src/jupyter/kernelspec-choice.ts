/**
 * Which kernelspec a command starts, among those a server offers or (for a
 * kernel we launch ourselves) those installed in the Jupyter data path.
 */
import { InfrastructureError, InputError } from "../common/errors.js";

export interface KernelSpecSummary {
  name: string;
  displayName: string;
  language: string;
}

/**
 * Which kernelspec to start: an explicit --kernel must exist; otherwise the
 * notebook's own kernelspec when it is available, else python3.
 * `where` names the place searched, for the messages ("on this server").
 */
export function chooseKernelSpec(
  available: KernelSpecSummary[],
  explicit: string | undefined,
  fromNotebook: string | undefined,
  where = "on this server",
): { name: string; note?: string } {
  const names = available.map((s) => s.name);
  if (explicit) {
    if (!names.includes(explicit)) {
      throw new InputError(`kernel '${explicit}' is not available ${where}`, [`available kernelspecs: ${names.join(", ") || "(none)"}`]);
    }
    return { name: explicit };
  }
  if (fromNotebook && names.includes(fromNotebook)) return { name: fromNotebook };
  const fallback = names.includes("python3") ? "python3" : names[0];
  if (!fallback) throw new InfrastructureError(`no kernelspec at all is available ${where}`);
  const note = fromNotebook ? `the notebook's kernel '${fromNotebook}' is not available here; using '${fallback}'` : undefined;
  return note ? { name: fallback, note } : { name: fallback };
}
