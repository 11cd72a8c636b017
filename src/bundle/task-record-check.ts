/**
 * A fast, conservative check of one task record against
 * schemas/task-record.schema.json. A cell record can hold thousands of task
 * entries, and Ajv spends most of a large bundle's validation on them
 * (100,000 entries: about 0.25 s of CPU, more than reading the files). This
 * check answers "certainly valid" for the common shapes in a few
 * comparisons; for anything else (a field it does not look into, such as
 * `files` or `pin`, or anything doubtful) it answers "ask Ajv", and Ajv stays
 * the only source of error messages. So a task it passes is one Ajv passes:
 * it may only be slower, never more lenient.
 *
 * It mirrors one version of the schema: TASK_SCHEMA_DIGEST below. When the
 * schema file changes, `fastTaskCheckApplies()` turns the fast path off (Ajv
 * checks every task) and a unit test fails until this file has been reviewed
 * and the digest updated.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../common/package-root.js";

/** sha256 of schemas/task-record.schema.json as parsed and re-serialised (formatting does not count). */
export const TASK_SCHEMA_DIGEST = "21891058af8960fc81c06e4cc6f339af91a27ed4d582d7a1e6b9bafb89f72681";

const SHA256 = /^[0-9a-f]{64}$/;
const REQUIRED = ["key", "engine", "function", "arg_keys", "upstream", "engine_key", "status"];
const STATUSES = new Set(["hit", "dispatched", "uncached", "failed"]);
const WHERE_KEYS: Record<string, "string" | "integer" | "boolean"> = { host: "string", pid: "integer", thread: "string", worker: "string", client: "boolean" };

export function taskSchemaDigest(): string {
  const schema: unknown = JSON.parse(readFileSync(join(packageRoot(), "schemas", "task-record.schema.json"), "utf8"));
  return createHash("sha256").update(JSON.stringify(schema)).digest("hex");
}

let applies: boolean | undefined;

/** Whether the schema on disk is the one this check mirrors (read once a process). */
export function fastTaskCheckApplies(): boolean {
  applies ??= taskSchemaDigest() === TASK_SCHEMA_DIGEST;
  return applies;
}

function isSha(v: unknown): boolean {
  return typeof v === "string" && v.length === 64 && SHA256.test(v);
}

function isCount(v: unknown): boolean {
  return typeof v === "number" && Number.isInteger(v) && v >= 0;
}

function isShaArray(v: unknown): boolean {
  if (!Array.isArray(v)) return false;
  for (const x of v) if (!isSha(x)) return false;
  return true;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isWhere(v: unknown): boolean {
  if (!isObject(v)) return false;
  for (const k of Object.keys(v)) {
    const type = WHERE_KEYS[k];
    const x = v[k];
    if (type === "string" ? typeof x !== "string" : type === "integer" ? !(typeof x === "number" && Number.isInteger(x)) : type === "boolean" ? typeof x !== "boolean" : true) return false;
  }
  return true;
}

function isResultPack(v: unknown): boolean {
  if (!isObject(v)) return false;
  const keys = Object.keys(v);
  return keys.length === 2 && isSha(v.digest) && isCount(v.offset);
}

/**
 * One field of a task record, checked as the schema has it; false for a field
 * this check does not look into (Ajv then decides).
 */
function fieldHolds(name: string, v: unknown): boolean {
  switch (name) {
    case "key":
      return v === null || isSha(v);
    case "engine":
      return typeof v === "string" && v.length > 0;
    case "function":
    case "reason":
    case "cell_id":
      return typeof v === "string";
    case "arg_keys":
    case "upstream":
    case "result_blobs":
      return isShaArray(v);
    case "engine_key":
      // maxLength counts code points; a string of at most 200 UTF-16 units has at most 200.
      return typeof v === "string" && v.length <= 200;
    case "occurrence":
    case "result_size":
      return isCount(v);
    case "status":
      return typeof v === "string" && STATUSES.has(v);
    case "result_digest":
      return isSha(v);
    case "result_pack":
      return isResultPack(v);
    case "duration_s":
      return typeof v === "number" && Number.isFinite(v) && v >= 0;
    case "where":
      return isWhere(v);
    case "not_stored":
      return typeof v === "boolean";
    default:
      // `pin`, `files`, a field the schema does not allow, or one added since: Ajv's call.
      return false;
  }
}

/** True only when `t` is certainly a valid task record; false means "validate it with Ajv". */
export function taskCertainlyValid(t: unknown): boolean {
  if (!isObject(t)) return false;
  for (const k of Object.keys(t)) if (!fieldHolds(k, t[k])) return false;
  for (const k of REQUIRED) if (!Object.hasOwn(t, k)) return false;
  if ((t.status === "uncached" || t.status === "failed") && !Object.hasOwn(t, "reason")) return false;
  if (t.status === "hit" && !(Object.hasOwn(t, "result_digest") && Object.hasOwn(t, "result_size"))) return false;
  return true;
}
