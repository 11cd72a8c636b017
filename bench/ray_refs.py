"""What N real ObjectRefs to small ints cost on Ray, by mechanism, in one process and session
(issue 15, item 6: the measurement behind engines/ray/nbrewind_ray_hits.py).

    N=2000 REPS=5 <managed env python> bench/ray_refs.py

Interleaved, medians of REPS: N empty tasks (the engine alone), N ray.put, and N returns of
calls with num_returns=K handed the K values, by a num_cpus=0 task or an actor method, with
K fixed or growing 16, 64, 256, 1024 (as the adapter does). Then how long one batch of 256
takes while the user's tasks hold both CPUs. No adapter is involved.
"""
import os, time, statistics
import ray

N = int(os.environ.get("N", "2000")); REPS = int(os.environ.get("REPS", "5"))
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
rsq = ray.remote(lambda x: x * x)

def _echo(*vals):
    return vals if len(vals) != 1 else vals[0]
echo_task = ray.remote(num_cpus=0)(_echo)

class Echo:
    def echo(self, *vals):
        return vals if len(vals) != 1 else vals[0]
t = time.perf_counter()
actor = ray.remote(num_cpus=0)(Echo).remote()
ray.get(actor.echo.remote(0)); actor_start = time.perf_counter() - t

def engine(): return ray.get([rsq.remote(i) for i in range(N)])
def puts(): return ray.get([ray.put(i * i) for i in range(N)])

def batched(k, target):
    def run():
        refs = []; vals = [i * i for i in range(N)]
        for s in range(0, N, k):
            chunk = vals[s:s + k]
            r = target.options(num_returns=len(chunk)).remote(*chunk)
            refs.extend([r] if len(chunk) == 1 else r)
        return ray.get(refs)
    return run

def growing(target):  # 16, 64, 256, 1024, ... as the adapter would do
    def run():
        refs = []; vals = [i * i for i in range(N)]; s = 0; k = 16
        while s < N:
            chunk = vals[s:s + k]; s += k; k = min(k * 4, 1024)
            r = target.options(num_returns=len(chunk)).remote(*chunk)
            refs.extend([r] if len(chunk) == 1 else r)
        return ray.get(refs)
    return run

cases = {"engine": engine, "put": puts}
for k in (64, 256, 1024):
    cases[f"task K={k}"] = batched(k, echo_task)
    cases[f"actor K={k}"] = batched(k, actor.echo)
cases["task grow"] = growing(echo_task); cases["actor grow"] = growing(actor.echo)
expected = [i * i for i in range(N)]
for name, f in cases.items():
    assert list(f()) == expected, name
times = {n: [] for n in cases}; cpu = {n: [] for n in cases}
for _ in range(REPS):
    for name, f in cases.items():
        c = time.process_time(); t = time.perf_counter(); f(); times[name].append(time.perf_counter() - t); cpu[name].append(time.process_time() - c)
base = statistics.median(times["engine"])
print(f"N={N} reps={REPS} loadavg={os.getloadavg()} actor start {actor_start:.2f} s")
for name in cases:
    m = statistics.median(times[name])
    print(f"{name:12s} wall {m*1000:7.1f} ms  cpu {statistics.median(cpu[name])*1000:7.1f} ms  ratio {m/base:5.3f}  per ref {m/N*1e6:6.1f} us  (min {min(times[name])/base:.3f} max {max(times[name])/base:.3f})")

# Latency of one batch of 256 while both CPUs are busy with user tasks (2 s sleeps).
sleeper = ray.remote(lambda: time.sleep(2))
for label, target in (("task", echo_task), ("actor", actor.echo)):
    busy = [sleeper.remote() for _ in range(2)]; time.sleep(0.3)
    t = time.perf_counter(); ray.get(target.options(num_returns=256).remote(*range(256))); lat = time.perf_counter() - t
    print(f"busy cluster: one {label} batch of 256 ready in {lat*1000:.0f} ms")
    ray.get(busy)
print("loadavg", os.getloadavg())
ray.shutdown()
