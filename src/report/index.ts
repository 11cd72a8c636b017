/** The report of a bundle: its data (collect.ts), the page (html.ts), and writing it. */
import { writeFileAtomic } from "../common/atomic-file.js";
import { collectReport, type CollectOptions } from "./collect.js";
import { renderReportHtml } from "./html.js";
import type { ReportData } from "./report-data.js";

export { collectReport, ReportTargetError, type CollectOptions } from "./collect.js";
export { renderReportHtml } from "./html.js";
export type { ReportData } from "./report-data.js";

/** Collect and write the page atomically; returns the data, whose `problems` say whether the bundle was whole. */
export async function writeReport(bundleDir: string, htmlPath: string, options: CollectOptions = {}): Promise<ReportData> {
  const data = await collectReport(bundleDir, options);
  await writeFileAtomic(htmlPath, renderReportHtml(data));
  return data;
}
