/**
 * nbformat v4 types, as stored on disk (multi-line strings may be a string or
 * a list of strings). Notebooks returned by readNotebook are always upgraded
 * to 4.5 in memory, so every cell has an `id`.
 *
 * Our own precise types rather than @jupyterlab/nbformat's: those make `id`
 * optional and type metadata as open JSON objects, and we want the compiler
 * to know which fields each cell and output kind carries.
 */

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** A string, or a list of strings meant to be joined ("splitlines(keepends)" form). */
export type MultilineString = string | string[];

/** mime type -> data; text-like types are multi-line strings, `application/json` and `application/*+json` any JSON. */
export type MimeBundle = { [mimeType: string]: MultilineString | JsonValue };

export interface KernelSpec {
  name: string;
  display_name: string;
  [key: string]: unknown;
}

export interface LanguageInfo {
  name: string;
  codemirror_mode?: string | JsonObject;
  file_extension?: string;
  mimetype?: string;
  pygments_lexer?: string;
  [key: string]: unknown;
}

export interface NotebookMetadata {
  kernelspec?: KernelSpec;
  language_info?: LanguageInfo;
  orig_nbformat?: number;
  title?: string;
  authors?: JsonValue[];
  [key: string]: unknown;
}

export interface CellMetadata {
  name?: string;
  tags?: string[];
  jupyter?: { source_hidden?: boolean; outputs_hidden?: boolean; [key: string]: unknown };
  execution?: { [key: string]: unknown };
  collapsed?: boolean;
  scrolled?: boolean | "auto";
  format?: string;
  [key: string]: unknown;
}

interface CellBase {
  /** 1-64 characters of [a-zA-Z0-9-_]; unique within the notebook. */
  id: string;
  metadata: CellMetadata;
  source: MultilineString;
}

export interface CodeCell extends CellBase {
  cell_type: "code";
  execution_count: number | null;
  outputs: Output[];
}

export interface MarkdownCell extends CellBase {
  cell_type: "markdown";
  attachments?: { [name: string]: MimeBundle };
}

export interface RawCell extends CellBase {
  cell_type: "raw";
  attachments?: { [name: string]: MimeBundle };
}

export type Cell = CodeCell | MarkdownCell | RawCell;
export type CellType = Cell["cell_type"];

export interface ExecuteResultOutput {
  output_type: "execute_result";
  execution_count: number | null;
  data: MimeBundle;
  metadata: { [key: string]: JsonValue };
}

export interface DisplayDataOutput {
  output_type: "display_data";
  data: MimeBundle;
  metadata: { [key: string]: JsonValue };
}

export interface StreamOutput {
  output_type: "stream";
  /** "stdout" or "stderr" in practice; the schema allows any string. */
  name: string;
  text: MultilineString;
}

export interface ErrorOutput {
  output_type: "error";
  ename: string;
  evalue: string;
  traceback: string[];
}

export type Output = ExecuteResultOutput | DisplayDataOutput | StreamOutput | ErrorOutput;
export type OutputType = Output["output_type"];

export interface Notebook {
  nbformat: 4;
  nbformat_minor: number;
  metadata: NotebookMetadata;
  cells: Cell[];
}

/** One schema problem: `path` is a JSON path such as `cells[3].source`, `message` says what is wrong. */
export interface ValidationProblem {
  path: string;
  message: string;
}
