/**
 * The corpus of issue 9: public tutorial notebooks that drive Dask, Parsl
 * and Ray, each with the smallest changes that let it run on a 2-core
 * machine without the internet, and one realistic edit. The notebooks
 * themselves are never copied into this repository: they are exported from
 * read-only git mirrors at run time (see run.ts).
 *
 * A change or an edit is a literal replacement in one cell's source (or the
 * removal of a cell), found by a unique snippet: when the upstream notebook
 * moves and the snippet is no longer there, the runner says so and skips the
 * notebook rather than running something else than described.
 */
import type { GeneratedData } from "./generated-data.js";

export interface SourceChange {
  /** What the change does and why, printed in the runner's output. */
  why: string;
  /** A snippet that identifies exactly one code cell. */
  cell: string;
  /** Replace `from` by `to` in that cell; with neither, the cell is removed. */
  from?: string;
  to?: string;
  /** Insert a new code cell with this source after the identified cell. */
  insertAfter?: string;
  /** Move the identified cell to just after the cell this snippet identifies. */
  moveAfter?: string;
  /** Remove the identified cell and every cell after it (a tail that needs the internet). */
  truncate?: true;
}

/** A literal replacement in a text file beside the notebook (a data file the user edits). */
export interface FileChange {
  /** Relative to the notebook's folder. */
  path: string;
  from: string;
  to: string;
}

/**
 * One more edit a user makes after the audit, tried on its own copy of the
 * audited folder and compared with a fresh run of the same edited notebook:
 * the kinds of change a scripted single edit does not cover (a data file, a
 * helper of a task function, a global it reads, a cell inserted, moved or
 * deleted).
 */
export interface MoreEdit {
  why: string;
  changes: SourceChange[];
  files?: FileChange[];
}

export interface CorpusNotebook {
  /** Short name used in the report and for --only. */
  name: string;
  /** The mirror folder under the corpus folder, and the notebook's path in it. */
  mirror: string;
  path: string;
  /** More paths (files or folders) of the mirror the notebook reads, exported beside it. */
  support: string[];
  /** Files the runner writes beside the notebook, instead of what it would download or its repository lacks. */
  generate?: GeneratedData;
  /** Changes needed to run here (internet, 2 cores): applied before the audit, so every run sees them. */
  changes: SourceChange[];
  /** The edit a user makes between the audit and the repeat. */
  edit: SourceChange;
  /** More edits, each from the audited state (see MoreEdit). */
  more?: MoreEdit[];
  /**
   * Cells (by a unique snippet) whose outputs show random samples: a fresh
   * run draws new ones, while a repeat serves the recorded ones where the
   * recorded run computed them, so their numbers are not compared.
   */
  randomCells: string[];
  /** Output that depends on timing in a plain run too, masked with the reason. */
  varies?: { why: string; pattern: RegExp; replacement: string }[];
}

export const CORPUS: CorpusNotebook[] = [
  {
    name: "dask-examples/delayed",
    mirror: "dask+dask-examples",
    path: "delayed.ipynb",
    support: [],
    changes: [
      { why: "32 chains of inc/dec/add instead of 256: each task sleeps up to 1 s, and 768 of them take minutes on 2 cores", cell: "for i in range(256):", from: "range(256)", to: "range(32)" },
      { why: "scale to two 4-thread workers instead of ten: 2 cores", cell: "client.cluster.scale(10)", from: "scale(10)", to: "scale(2)" },
      { why: "no z.visualize(): graphviz is not installed", cell: "z.visualize(rankdir='LR')" },
    ],
    edit: { why: "a parameter: 16 chains instead of 32", cell: "for i in range(32):", from: "range(32)", to: "range(16)" },
    randomCells: [],
  },
  {
    name: "dask-examples/futures",
    mirror: "dask+dask-examples",
    path: "futures.ipynb",
    support: [],
    changes: [
      { why: "32 chains of inc/double/add instead of 256 (tasks sleep up to 1 s each)", cell: "for i in range(256):", from: "range(256)", to: "range(32)" },
      { why: "scale to two 4-thread workers instead of ten: 2 cores", cell: "client.cluster.scale(10)", from: "scale(10)", to: "scale(2)" },
    ],
    edit: { why: "a new cell printing the total of the submitted futures", cell: "total = client.submit(sum, zs)", insertAfter: "print(total.result())" },
    randomCells: [],
  },
  {
    name: "dask-examples/array",
    mirror: "dask+dask-examples",
    path: "array.ipynb",
    support: [],
    changes: [
      { why: "a 2,000 x 2,000 array in 250 x 250 chunks instead of 10,000 x 10,000 in 1,000 x 1,000 (800 MB on a 2 GB worker)", cell: "da.random.random((10000, 10000)", from: "da.random.random((10000, 10000), chunks=(1000, 1000))", to: "da.random.random((2000, 2000), chunks=(250, 250))" },
      { why: "the slice scaled with the array", cell: "y = x + x.T", from: "5000:", to: "1000:" },
    ],
    edit: { why: "another statistic of the persisted array: its mean instead of its sum", cell: "y.sum().compute()", from: "y.sum()", to: "y.mean()" },
    randomCells: ["z.compute()", "y[0, 0].compute()", "y.sum().compute()", "y.mean().compute()"],
  },
  {
    name: "dask-examples/embarrassingly-parallel",
    mirror: "dask+dask-examples",
    path: "applications/embarrassingly-parallel.ipynb",
    support: [],
    changes: [
      { why: "40 parameter sets instead of 500: each simulation sleeps up to 1 s and the notebook runs them four times", cell: "np.random.random(size=(500, 4))", from: "size=(500, 4)", to: "size=(40, 4)" },
      { why: "scale to two 4-thread workers instead of ten: 2 cores", cell: "client.cluster.scale(10)", from: "scale(10)", to: "scale(2)" },
    ],
    edit: { why: "a parameter: 10 bag partitions instead of 100", cell: "db.from_sequence(", from: "npartitions=100", to: "npartitions=10" },
    randomCells: [
      "input_params.head()",
      "results.append(result)",
      "^results$",
      "lazy_results[0]",
      "dask.compute(*lazy_results)",
      "results = dask.compute(*futures)",
      "results = client.gather(futures)\nresults[:5]",
      "print(results[0])",
      "output.sample(5)",
      "output['result'].plot()",
      "output['result'].mean()",
      "filtered_output = ",
    ],
  },
  {
    name: "parsl-tutorial/1-parsl-introduction",
    mirror: "Parsl+parsl-tutorial",
    path: "1-parsl-introduction.ipynb",
    support: ["input"],
    changes: [
      {
        why: "read unsorted.txt from the tutorial's own input/ folder instead of downloading it from GitHub",
        cell: "unsorted_file = File('https://",
        from: "File('https://raw.githubusercontent.com/Parsl/parsl-tutorial/master/input/unsorted.txt')",
        to: "File(os.path.join(os.getcwd(), 'input', 'unsorted.txt'))",
      },
    ],
    edit: { why: "an argument of an app call: multiply(5, 10) instead of multiply(5, 9)", cell: "print(multiply(5, 9).result())", from: "multiply(5, 9)", to: "multiply(5, 10)" },
    randomCells: ["random = generate(10)", "rand_nums.append", "'random-{}.txt'.format(i)", "def pi(num_points)", "'combined.txt'"],
  },
  {
    name: "parsl-tutorial/3-parsl-workflows",
    mirror: "Parsl+parsl-tutorial",
    path: "3-parsl-workflows.ipynb",
    support: ["app", "input", "output"],
    changes: [
      { why: "no Frontera cell: it submits to a Slurm cluster (SlurmProvider)", cell: "label=\"frontera_htex\"" },
      { why: "no Midway MPI cell: it imports a site configuration (config.midway) and needs mpicc", cell: "from config.midway import config" },
    ],
    edit: { why: "a parameter: 3 simulations instead of 5 in the parallel workflow", cell: "out_file = \"output/p3_sim_{0}\"", from: "for i in range(5):", to: "for i in range(3):" },
    randomCells: ["stdout=(\"output/p1.out\", \"w\")", "return randint(1,100)", "output/p3_sim_", "output/p4_sim_"],
    varies: [{ why: "which simulations are done when the first `Job Status` is printed depends on timing (and a served task is done at once)", pattern: /Job Status: \[[^\]]*\]/, replacement: "Job Status: <first look>" }],
  },
  {
    name: "academy/ray-crash-course/01-Ray-Tasks",
    mirror: "anyscale+academy",
    path: "ray-crash-course/01-Ray-Tasks.ipynb",
    support: [],
    generate: "ray-arrays",
    changes: [],
    edit: { why: "a one-line bug fix in a remote function: add_array added arr1 to itself", cell: "def add_array(", from: "np.add(arr1, arr1)", to: "np.add(arr1, arr2)" },
    randomCells: [],
  },
  {
    name: "ray-educational-materials/Ray_Core_5_Best_Practices",
    mirror: "ray-project+ray-educational-materials",
    path: "Ray_Core/Ray_Core_5_Best_Practices.ipynb",
    support: [],
    changes: [
      { why: "2,000 tiny remote tasks instead of 100,000: on 2 cores that many tasks take minutes", cell: "result_ids = [remote_tiny_task.remote(x) for x in range(100000)]", from: "range(100000)", to: "range(2000)" },
      { why: "20 batches of 1,000 instead of 100", cell: "mega_work.remote(x*1000", from: "for x in range(100)", to: "for x in range(20)" },
      { why: "a 1,000 x 1,000 array instead of 5,000 x 5,000: ten 200 MB copies fill the object store of a small machine", cell: "a = np.random.rand(5000, 5000)", from: "np.random.rand(5000, 5000)", to: "np.random.rand(1000, 1000)" },
    ],
    edit: { why: "a parameter: 20 calls instead of 25 in the anti-pattern loop", cell: "results = [ray.get(do_some_work.remote(x)) for x in range(25)]", from: "range(25)", to: "range(20)" },
    varies: [{ why: "ray.nodes() and the resource counts show the live node (its ports, memory and object store use)", pattern: /(ray\.nodes\(\)|ray\.cluster_resources\(\)|ray\.available_resources\(\)):[^\n]*/g, replacement: "$1: <live node state>" }],
    randomCells: ["ray.get_gpu_ids()", "ray.nodes()[0]", "x_ref, y_ref, z_ref = tuple3.remote", "xyz_ref = tuple3_packed.remote", "actor = TupleActor.remote()", "a = np.random.rand(", "a_id_ref = ray.put(a)", "Ordinary funciton call takes", "Parallelizing Ray tasks takes", "Parallelizing Ray tasks as batches", "Duration without pipelining", "Duration with pipelining"],
  },
  {
    name: "dask-tutorial/03_dask.delayed",
    mirror: "dask+dask-tutorial",
    path: "03_dask.delayed.ipynb",
    support: ["prep.py", "data"],
    generate: "nycflights",
    changes: [
      { why: "two workers instead of four: 2 cores", cell: "client = Client(n_workers=4)", from: "n_workers=4", to: "n_workers=2" },
      { why: "no z.visualize(): graphviz is not installed", cell: "# Look at the task graph for `z`" },
      { why: "no total.visualize(): graphviz is not installed", cell: "total.visualize()" },
      { why: "no (sum(sums)).visualize(): graphviz is not installed", cell: "(sum(sums)).visualize()" },
    ],
    edit: { why: "a parameter: four data items instead of eight", cell: "data = [1, 2, 3, 4, 5, 6, 7, 8]", from: "[1, 2, 3, 4, 5, 6, 7, 8]", to: "[1, 2, 3, 4]" },
    randomCells: [],
    varies: [{ why: "prep.py says what it creates: nothing when the data is already there, as in the audit's folder", pattern: /- Creating json data\.\.\. done\n\*\* Created flights dataset! in [\d.]+s\*\*\n/, replacement: "" }],
  },
  {
    name: "dask-tutorial/05_futures",
    mirror: "dask+dask-tutorial",
    path: "05_futures.ipynb",
    support: [],
    changes: [{ why: "two workers instead of four: 2 cores", cell: "client = Client(n_workers=4)", from: "n_workers=4", to: "n_workers=2" }],
    edit: { why: "a one-line change in flaky_inc: it fails 10% of the time instead of 20%", cell: "def flaky_inc(i):", from: "random() < 0.2", to: "random() < 0.1" },
    randomCells: ["for i, future in enumerate(futures):", "futures[5].retry()"],
  },
  // Added for issue 10/15's kinds of edit (each `more` edit starts again from the audited folder).
  {
    name: "parsl-tutorial/ParslFest2020/advanced-dependencies",
    mirror: "Parsl+parsl-tutorial",
    path: "ParslFest2020/parslfest-2020-advanced-dependencies.ipynb",
    support: [],
    generate: "text-lines",
    changes: [
      { why: "first() sleeps 1 s instead of 5: it runs a dozen times", cell: 'print("starting first")', from: "time.sleep(5)", to: "time.sleep(1)" },
      { why: "analyze_player sleeps a tenth of its name's length in seconds instead of the length", cell: "def analyze_player(name):", from: "time.sleep(n)", to: "time.sleep(n / 10)" },
      { why: "no cell that fails on purpose (an app raising): the audit stops at a cell's error", cell: "^avg(rand(), fail(), rand()).result()$" },
      { why: "no cell that fails on purpose (a future set to an exception)", cell: "^f.result()$" },
      { why: "count the lines of a local data file instead of /etc/passwd, which is the machine's", cell: 'count_lines(parsl.File("/etc/passwd"))', from: '"/etc/passwd"', to: '"data/lines.txt"' },
      { why: "no cells fetching a web page: no internet", cell: 'parsl.File("http://', truncate: true },
    ],
    edit: { why: "a task function's body: double multiplies by 3", cell: "def double(n):", from: "return n*2", to: "return n*3" },
    more: [
      { why: "a data file a task reads gains a line (data/lines.txt, counted by count_lines)", changes: [], files: [{ path: "data/lines.txt", from: "line 40\n", to: "line 40\nline 41\n" }] },
      { why: "a module-level list the submitting function reads: Team C fields Abi instead of Dugnutt", changes: [{ why: "", cell: '("Team C", ["Butch", "Jackson", "Dugnutt"])', from: '("Team C", ["Butch", "Jackson", "Dugnutt"])', to: '("Team C", ["Butch", "Jackson", "Abi"])' }] },
      { why: "a cell deleted (the one totalling add_firsts_a's futures)", changes: [{ why: "", cell: "def add_firsts_a():" }] },
      { why: "a cell inserted: fibonacci(5) after fibonacci(3)", changes: [{ why: "", cell: "^fibonacci(3).result()$", insertAfter: "fibonacci(5).result()" }] },
      { why: "a cell moved: fibonacci(3) after the concurrent Future cells", changes: [{ why: "", cell: "^fibonacci(3).result()$", moveAfter: "^f.set_result(10)$" }] },
    ],
    randomCells: ["avg(rand(),rand(), rand()).result()", "ExceptionHidingFuture(rand())"],
    varies: [
      {
        why: "what the apps print from their worker threads: which cell's output a line lands in depends on timing, and a served task does not run, so prints nothing",
        pattern: /(starting|ending) first|executing double|Totalling\.\.\.|(start|end)? ?analyzing [\w-]+/g,
        replacement: "",
      },
      { why: "whether a task is done when first looked at depends on timing (a served task is done at once)", pattern: /^(True|False)$/gm, replacement: "<done or not>" },
      { why: "the same, as a team's score or its absence", pattern: /Team (.+?) (has score \d+|no score yet)/g, replacement: "Team $1 <score or not yet>" },
      { why: "the same, in an AppFuture's repr", pattern: /state=(pending|running|launched|finished returned \w+)/g, replacement: "state=<state>" },
      { why: "the line breaks those prints leave behind (a thread's print and its newline can land in two cells)", pattern: /\s+/g, replacement: "" },
    ],
  },
  {
    name: "ray-educational-materials/Ray_Core_1_Remote_Functions",
    mirror: "ray-project+ray-educational-materials",
    path: "Ray_Core/Ray_Core_1_Remote_Functions.ipynb",
    support: [],
    changes: [
      { why: "no pyarrow here, and this part of the notebook does not use it", cell: "import pyarrow.parquet as pq", from: "import pyarrow.parquet as pq\n", to: "" },
      { why: "200,000 samples per task instead of 10,000,000: pure-Python loops, run serially and then as tasks", cell: "NUM_SAMPLES_PER_TASK = 10_000_000", from: "10_000_000", to: "200_000" },
      { why: "no image part: it downloads images from the internet", cell: "import tasks_helper_utils as t_utils", truncate: true },
    ],
    edit: { why: "a helper the remote function calls: generate_fibonacci returns the last six digits of the last number", cell: "def generate_fibonacci(sequence_size):", from: "return len(fibonacci)", to: "return fibonacci[-1] % 1_000_000" },
    more: [
      { why: "a parameter in an early cell: SEQUENCE_SIZE 50,000 instead of 100,000", changes: [{ why: "", cell: "^SEQUENCE_SIZE = 100000$", from: "100000", to: "50000" }] },
      { why: "a remote function's body: sample_task_distribute stops printing", changes: [{ why: "", cell: "def sample_task_distribute(", from: "sampling_task(sample_size, i)", to: "sampling_task(sample_size, i, verbose=False)" }] },
      { why: "a cell deleted: the serial run_local timing", changes: [{ why: "", cell: "run_local(SEQUENCE_SIZE)" }] },
    ],
    randomCells: ["results = run_serial(", "Estimated value of π", "results = run_disributed("],
    varies: [
      {
        why: "what remote functions print, forwarded by Ray from its workers: which cell's output a line lands in depends on timing, a served task prints nothing, and a dispatched one is named `name[nbrewind]` (the persisting twin) in Ray's prefix",
        pattern: /[^\n(]*\([\w.[\]]+ pid=\d+(, ip=[\d.]+)?\)[^\n]*\n?/g,
        replacement: "",
      },
    ],
  },
  {
    name: "academy/ray-crash-course/03-Ray-Objects",
    mirror: "anyscale+academy",
    path: "ray-crash-course/03-Ray-Objects.ipynb",
    support: [],
    changes: [
      { why: "long_running_function sleeps 3 s instead of 10, ray.get waits 1 s instead of 6", cell: "def long_running_function ():", from: "time.sleep(10)", to: "time.sleep(3)" },
      { why: "(the same)", cell: "ray.get(obj_ref, timeout=6)", from: "timeout=6", to: "timeout=1" },
    ],
    edit: { why: "a parameter in an early cell, reaching a task through ray.put: num_list ends in 94", cell: "num_list = [23, 42, 93]", from: "93]", to: "94]" },
    more: [
      { why: "a remote function's body: my_function returns the max", changes: [{ why: "", cell: "def my_function (num_list):", from: "sum(num_list)", to: "max(num_list)" }] },
      { why: "a cell deleted: the ten ray.put round trips", changes: [{ why: "", cell: "ray.get([ray.put(i) for i in range(10)])" }] },
      { why: "a cell inserted: my_function on a new ray.put list", changes: [{ why: "", cell: "calc_ref = my_function.remote(obj_ref)", insertAfter: "print(ray.get(my_function.remote(ray.put([1, 2, 3]))))" }] },
    ],
    randomCells: [],
    varies: [{ why: "whether ray.get times out depends on timing: a served task is done at once", pattern: /`get` timed out\n/g, replacement: "" }],
  },
  {
    name: "dask-examples/bag",
    mirror: "dask+dask-examples",
    path: "bag.ipynb",
    support: [],
    generate: "people-json",
    changes: [
      { why: "two workers instead of four: 2 cores", cell: "Client(n_workers=4, threads_per_worker=1)", from: "n_workers=4", to: "n_workers=2" },
      { why: "data/*.json written before the audit (generated-data.ts) instead of by dask.datasets.make_people(), which needs mimesis", cell: "b = dask.datasets.make_people()", from: "b = dask.datasets.make_people()                 # Make records of people\nb.map(json.dumps).to_textfiles('data/*.json')   # Encode as JSON, write to disk", to: "" },
      { why: "the processed records are written to processed/, not data/processed.*.json: data/*.json is the input glob, so a second run in the same folder would read them as input", cell: ".to_textfiles('data/processed.*.json')", from: "data/processed.*.json", to: "processed/*.json" },
      { why: "no dataframe part: Bag.to_dataframe needs pyarrow, which is not installed here", cell: "b.map(flatten).to_dataframe()", truncate: true },
    ],
    edit: { why: "a filter threshold: people over 40 instead of 30 in the top occupations", cell: ".frequencies(sort=True)", from: "record['age'] > 30", to: "record['age'] > 40" },
    more: [
      { why: "a data file the tasks read: the first record of data/3.json changes occupation", changes: [], files: [{ path: "data/3.json", from: '"occupation":"', to: '"occupation":"Astronaut","was":"' }] },
      { why: "a function the tasks call: the field selector takes the name instead of the occupation", changes: [{ why: "", cell: "b.map(lambda record: record['occupation']).take(2)", from: "record['occupation']", to: "record['name']" }] },
      { why: "a cell moved: the record count after the top occupations", changes: [{ why: "", cell: "b.count().compute()", moveAfter: "^result.compute()$" }] },
      { why: "a cell deleted: b.take(1)", changes: [{ why: "", cell: "^b.take(1)$" }] },
    ],
    randomCells: [],
  },
];
