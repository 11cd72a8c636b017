export type {
  Cell, CellMetadata, CellType, CodeCell, DisplayDataOutput, ErrorOutput, ExecuteResultOutput, JsonValue, MarkdownCell,
  MimeBundle, MultilineString, Notebook, NotebookMetadata, Output, OutputType, RawCell, StreamOutput, ValidationProblem,
} from "./types.js";
export { readNotebook, parseNotebook } from "./read.js";
export { validateNotebook } from "./validate.js";
export { ensureCellIds, isValidCellId } from "./cell-id.js";
export { writeNotebook, serializeNotebook } from "./write.js";
export { cellSource, toMultiline, normaliseSource, joinMultiline } from "./source.js";
export {
  parseParameterValue, readParameterFile, collectParameters, injectParameters, codifyParameters, pythonLiteral,
  isPythonIdentifier, PyFloat, INJECTED_CELL_ID, INJECTED_TAG, PARAMETERS_TAG, type ParameterValue,
} from "./parameters.js";
