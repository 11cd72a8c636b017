/** The five case studies, in the order the bench runs them. */
import type { CaseStudy } from "./case.js";
import { climate } from "./climate/case.js";
import { convolution } from "./convolution/case.js";
import { mapreduce } from "./mapreduce/case.js";
import { physics } from "./physics/case.js";
import { retrieval } from "./retrieval/case.js";

export const CASES: CaseStudy[] = [mapreduce, convolution, retrieval, climate, physics];
