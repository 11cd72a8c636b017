import { describeTaskFiles } from "./task-files-notebook.js";

// Dask distributed (worker processes, two threads each) and Parsl HTEX in one notebook: one kernel for both.
describeTaskFiles(["dask", "parsl"]);
