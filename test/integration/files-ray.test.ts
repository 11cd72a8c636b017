import { describeTaskFiles } from "./task-files-notebook.js";

// Ray on its own: its start-up is the slow part, and it must not hide the others' results.
describeTaskFiles(["ray"]);
