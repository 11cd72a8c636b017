/**
 * A value bound to a live engine: a Dask future or a collection persisted on
 * a cluster, a Ray ObjectRef, a Parsl AppFuture or DataFuture, or anything
 * holding one. The shim never stores it (its pickle would come back as a
 * handle to a cluster that no longer holds the result); the cell that made it
 * runs again, its tasks served from the task cache, and recreates it bound to
 * this run's engine.
 */
export interface EngineBound {
  status: "engine-bound";
  /** The value's own type, e.g. dask.array.core.Array or builtins.list. */
  type: string;
  /** dask, ray or parsl. */
  engine: string;
  /** The handle found in it, e.g. dask.distributed.Future or ray.ObjectRef. */
  holds: string;
  /** In words: "a dask.array.core.Array holding dask.distributed.Future(s), bound to the Dask cluster of the run that made it". */
  reason: string;
}

export type EngineBoundWrite = EngineBound & { name: string };
