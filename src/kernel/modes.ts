/**
 * The NBRewind kernel's mode (off, audit, repeat), its bundle and its
 * checkpoint session: what the magics change, and what an execute request
 * asks for a cell.
 */
import { existsSync } from "node:fs";
import { basename, isAbsolute, join, resolve } from "node:path";
import type { Bundle } from "../bundle/bundle.js";
import { defaultBundleDir, MANIFEST_FILE } from "../bundle/paths.js";
import { describeKey, KeyStore, type SigningKey } from "../bundle/trust/keys.js";
import { writeOwnerMark } from "../bundle/trust/owner.js";
import { assessTrust } from "../bundle/trust/trust.js";
import { auditedVouch } from "../bundle/trust/vouch.js";
import { InputError } from "../common/errors.js";
import { ShimClient, type ShimChannel } from "../jupyter/shim-client.js";
import { openBundle } from "../session/checkpoint-session.js";
import { ExecutionHistory } from "../session/execution-history.js";
import { InteractiveSession, kernelTaskSettings } from "../session/interactive-session.js";
import { MAGIC_HELP, type MagicCommand } from "./magics.js";

export type Mode = "off" | "audit" | "repeat";

export interface ModeDeps {
  channel: ShimChannel;
  /** The notebook file VS Code names in the kernel (`__vsc_ipynb_file__`), if any. */
  probeNotebookFile: () => Promise<string | undefined>;
  kernelName: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export class Modes {
  mode: Mode = "off";
  session: InteractiveSession | undefined;
  readonly history = new ExecutionHistory();
  private explicitBundle: string | undefined;
  /** `--store all` of the current mode: every task result stored, even those cheaper to recompute. */
  private storeAll = false;
  private shim: { client: ShimClient; blobs: string } | undefined;
  /** Where the session's progress lines go: the cell being executed. */
  log: (line: string) => void = () => {};

  constructor(private readonly deps: ModeDeps) {}

  /** Apply one magic; returns the lines to show in the cell. Bad input throws InputError, and the mode is then off. */
  async apply(command: MagicCommand): Promise<string[]> {
    switch (command.kind) {
      case "help":
        return MAGIC_HELP;
      case "status":
        return this.session ? this.session.statusLines() : [`mode: off${this.explicitBundle ? `, bundle ${this.explicitBundle}` : ""}`];
      case "explain":
        return this.session ? this.session.explainLines() : ["mode is off: no cell was reused or recorded"];
      case "bundle": {
        this.explicitBundle = resolve(this.deps.cwd, command.path);
        const mode = this.mode;
        if (mode === "off") return [`[nbrewind] bundle: ${this.bundleDirOf(this.explicitBundle)}`];
        // Same mode, new bundle: the session moves over (with its storage policy).
        this.mode = "off";
        return this.switchTo(mode, false, this.storeAll);
      }
      case "mode":
        return this.switchTo(command.mode, command.trust, command.storeAll);
    }
  }

  private async switchTo(mode: Mode, trust: boolean, storeAll: boolean): Promise<string[]> {
    await this.endSession("ok");
    this.storeAll = storeAll;
    if (mode === "off") return ["[nbrewind] off: cells run as in a plain Python kernel, nothing is recorded or reused"];
    const dir = await this.bundleDir();
    const notebook = this.explicitBundle ?? dir;
    const existed = existsSync(join(dir, MANIFEST_FILE));
    if (mode === "repeat" && !existed) throw new InputError(`no bundle at ${dir}: record one first with %audit on (or name one with %nbrewind bundle PATH)`);
    const bundle = await openBundle(mode, dir, notebook);
    const signer = existed ? await this.trusted(bundle, trust) : await this.claim(bundle);
    const records = await bundle.records();
    const shim = await this.shimFor(bundle);
    const notebookPath = await this.notebookPath();
    // nbrewind.yaml (found upward from the notebook's folder) or the bundle's pins, as for the CLI's audit and repeat.
    const taskSettings = await kernelTaskSettings(notebookPath, this.deps.cwd, dir);
    const session = new InteractiveSession(mode, bundle, records, this.history, {
      signer,
      log: (line) => this.log(line),
      folder: this.deps.cwd,
      taskSettings,
      ...(storeAll ? { storeAll } : {}),
      ...(notebookPath ? { notebookPath } : {}),
    });
    await session.begin(shim, this.deps.kernelName);
    this.session = session;
    this.mode = mode;
    return mode === "audit"
      ? [`[nbrewind] audit: every cell you run is recorded in ${dir}`]
      : [`[nbrewind] repeat: ${records.size} recorded cell version(s) in ${dir}; a cell whose inputs did not change is answered from it`];
  }

  /** The shim writes into the bundle's blob store; a new bundle means a new greeting. */
  private async shimFor(bundle: Bundle): Promise<ShimClient> {
    if (this.shim?.blobs === bundle.blobs.root) return this.shim.client;
    this.shim?.client.close();
    const client = await ShimClient.connect(this.deps.channel, { blobsDir: bundle.blobs.root });
    this.shim = { client, blobs: bundle.blobs.root };
    return client;
  }

  /**
   * Loading a value unpickles it, which runs code: a bundle that is not the
   * user's must be signed by a key they trust, or accepted with --trust.
   */
  private async trusted(bundle: Bundle, trustFlag: boolean): Promise<SigningKey> {
    const keys = new KeyStore();
    const verdict = await assessTrust(bundle.dir, keys, { trustFlag });
    if (!verdict.trusted) throw new InputError(`refusing to load values from ${bundle.dir}: ${verdict.reason}. Loading a value unpickles it, which runs code; if you know where it comes from: %nbrewind repeat --trust`, verdict.fix);
    const key = await keys.ensureOwnKey(this.log);
    if (verdict.how !== "owner") {
      await writeOwnerMark(bundle.dir, key, verdict.vouch ?? auditedVouch());
      this.log(`[nbrewind] accepted ${bundle.dir} (${verdict.detail}); marked as yours (${describeKey(key.info)})`);
    }
    return key;
  }

  private async claim(bundle: Bundle): Promise<SigningKey> {
    const key = await new KeyStore().ensureOwnKey(this.log);
    await writeOwnerMark(bundle.dir, key, auditedVouch());
    return key;
  }

  /**
   * The bundle beside the notebook: `%nbrewind bundle PATH`, else the
   * notebook the frontend names (NBREWIND_NOTEBOOK; Jupyter Server's
   * JPY_SESSION_NAME; VS Code's `__vsc_ipynb_file__`).
   */
  private async bundleDir(): Promise<string> {
    if (this.explicitBundle) return this.bundleDirOf(this.explicitBundle);
    const notebook = await this.notebookPath();
    if (!notebook) {
      throw new InputError("the kernel does not know which notebook it runs (no JPY_SESSION_NAME from Jupyter Server, no VS Code notebook file): name the bundle with %nbrewind bundle PATH, or set NBREWIND_NOTEBOOK");
    }
    return defaultBundleDir(notebook);
  }

  /** The notebook this kernel runs, when the frontend (or `%nbrewind bundle NOTEBOOK.ipynb`) names it. */
  private async notebookPath(): Promise<string | undefined> {
    if (this.explicitBundle) return this.explicitBundle.endsWith(".ipynb") ? resolve(this.deps.cwd, this.explicitBundle) : undefined;
    const { env, cwd } = this.deps;
    const named = env.NBREWIND_NOTEBOOK || env.JPY_SESSION_NAME || (await this.deps.probeNotebookFile());
    if (!named) return undefined;
    // Jupyter Server names the notebook by its path under the server root, and starts the kernel in the notebook's folder.
    return isAbsolute(named) ? named : existsSync(resolve(cwd, named)) ? resolve(cwd, named) : join(cwd, basename(named));
  }

  private bundleDirOf(path: string): string {
    return path.endsWith(".ipynb") ? defaultBundleDir(path) : path;
  }

  private async endSession(status: "ok" | "interrupted" | "kernel-died", shutdownEngines = false): Promise<void> {
    const session = this.session;
    this.session = undefined;
    this.mode = "off";
    await session?.end(status, { shutdownEngines });
  }

  /** At kernel shutdown: close the engines the cells started and the run in the bundle. */
  async close(status: "ok" | "interrupted" | "kernel-died"): Promise<void> {
    const session = this.session;
    await this.endSession(status, status !== "kernel-died");
    if (!session && this.shim && status !== "kernel-died") {
      // Engines outlive a mode switch: they are closed when the kernel goes.
      await this.shim.client.shutdownEngines().catch(() => {});
    }
    this.shim?.client.close();
    this.shim = undefined;
  }
}
