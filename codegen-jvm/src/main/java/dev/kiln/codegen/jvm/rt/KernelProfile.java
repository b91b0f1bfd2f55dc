package dev.kiln.codegen.jvm.rt;

import java.util.ArrayList;
import java.util.List;

/// Time per kernel of one compiled graph, summed over the runs since profiling started: each
/// task is timed (wall clock, including its parallel parts and, for a call, its epilogue) and
/// counted, and its estimated flops and bytes are summed with the sizes of each run. A kernel's
/// first call also loads and JIT-compiles its code, and can take as long as hundreds of later
/// ones, so it is kept apart: the table's mean, share and rates cover the calls after the first
/// (the one call, when there is one), and `first us` shows the first. The JVM
/// backend's executor (`PlanExecutable`, in-process and in a jar) fills one of these; `table()` prints it as `kiln bench --profile`, a jar's `--profile` and
/// `CompiledModel.profile()` show it.
///
/// Profiling is asked for per executable (`enableProfile`), or for every executable of the
/// process with `-Dkiln.profile=true` or `KILN_PROFILE=1` (`requested()`).
///
/// Thread-safety: the counters are updated and read under this object's lock.
public final class KernelProfile {
    private final Plan plan;
    private final long[] nanos, calls, flops, bytes, firstNanos, firstFlops, firstBytes;
    private long runs;

    public KernelProfile(Plan plan) {
        this.plan = plan;
        int n = plan.tasks().size();
        nanos = new long[n];
        calls = new long[n];
        flops = new long[n];
        bytes = new long[n];
        firstNanos = new long[n];
        firstFlops = new long[n];
        firstBytes = new long[n];
    }

    /// Counts one run of task `task` that took `dt` ns, with the dimension symbols bound to `dims`.
    public synchronized void add(int task, long dt, int[] dims) {
        Plan.Task t = plan.tasks().get(task);
        long f = t.flops().eval(dims), b = t.bytes().eval(dims);
        if (calls[task] == 0) {
            firstNanos[task] = dt;
            firstFlops[task] = f;
            firstBytes[task] = b;
        }
        nanos[task] += dt;
        calls[task]++;
        flops[task] += f;
        bytes[task] += b;
    }

    /// Counts one run of the whole graph.
    public synchronized void endRun() { runs++; }

    /// One row per kernel (its tasks summed, epilogues with their call), in execution order:
    /// `calls`, `nanos`, `flops` and `bytes` over every call; `first...` of the first call.
    public record Row(String kernel, String source, long calls, long nanos, long flops, long bytes,
                      long firstNanos, long firstFlops, long firstBytes) {
        /// The calls the mean covers: all but the first, or the one call there is.
        public long steadyCalls() { return calls > 1 ? calls - 1 : calls; }
        public long steadyNanos() { return calls > 1 ? nanos - firstNanos : nanos; }
        long steadyFlops() { return calls > 1 ? flops - firstFlops : flops; }
        long steadyBytes() { return calls > 1 ? bytes - firstBytes : bytes; }
    }

    public synchronized long runs() { return runs; }

    public synchronized List<Row> rows() {
        List<Row> rows = new ArrayList<>();
        int k = -1;
        long c = 0, ns = 0, f = 0, b = 0, fns = 0, ff = 0, fb = 0;
        for (int t = 0; t <= plan.tasks().size(); t++) {
            int kt = t < plan.tasks().size() ? plan.tasks().get(t).kernel() : -2;
            if (kt != k) {
                if (k >= 0) rows.add(new Row(plan.kernels().get(k).name(), plan.kernels().get(k).source(), c, ns, f, b, fns, ff, fb));
                k = kt;
                c = ns = f = b = fns = ff = fb = 0;
            }
            if (t == plan.tasks().size()) break;
            c = Math.max(c, calls[t]);
            ns += nanos[t];
            f += flops[t];
            b += bytes[t];
            fns += firstNanos[t];
            ff += firstFlops[t];
            fb += firstBytes[t];
        }
        return rows;
    }

    /// The rows as a table, in execution order: kernel, calls, total time, mean time (after the
    /// first call), the first call's time, share of the total (after the first calls), achieved
    /// GFLOP/s (library calls) and GB/s (estimated from the bytes each kernel touches once), and
    /// the source lines the kernel comes from.
    public String table() { return table(rows(), Integer.MAX_VALUE); }

    /// The `rowLimit` kernels that took the most time, the slowest first (the total line still
    /// counts them all): `table(sort_by="cpu_time_total", row_limit=10)` in torch.profiler.
    public String table(int rowLimit) {
        List<Row> rows = new ArrayList<>(rows());
        rows.sort(java.util.Comparator.comparingLong(Row::steadyNanos).reversed());
        return table(rows, rowLimit);
    }

    private String table(List<Row> all, int rowLimit) {
        List<Row> rows = all.subList(0, Math.min(all.size(), Math.max(0, rowLimit)));
        long total = 0, steady = 0, first = 0;
        for (Row r : all) {
            total += r.nanos();
            steady += r.steadyNanos();
            first += r.firstNanos();
        }
        int w = "kernel".length();
        for (Row r : rows) w = Math.max(w, Math.min(40, r.kernel().length()));
        StringBuilder s = new StringBuilder();
        s.append(String.format("%-" + w + "s %7s %10s %10s %10s %6s %9s %8s  %s%n", "kernel", "calls", "total ms", "mean us", "first us",
                "share", "GFLOP/s", "GB/s", "source"));
        for (Row r : rows) {
            String name = r.kernel().length() > w ? r.kernel().substring(0, w - 1) + "~" : r.kernel();
            double sec = r.steadyNanos() / 1e9;
            s.append(String.format("%-" + w + "s %7d %10.3f %10.1f %10.1f %5.1f%% %9s %8s  %s%n", name, r.calls(), r.nanos() / 1e6,
                    r.calls() == 0 ? 0.0 : r.steadyNanos() / 1e3 / r.steadyCalls(), r.firstNanos() / 1e3,
                    steady == 0 ? 0.0 : 100.0 * r.steadyNanos() / steady,
                    r.steadyFlops() == 0 || sec == 0 ? "-" : String.format("%.1f", r.steadyFlops() / sec / 1e9),
                    sec == 0 ? "-" : String.format("%.2f", r.steadyBytes() / sec / 1e9), shortSource(r.source())));
        }
        long steadyRuns = runs > 1 ? runs - 1 : runs;
        s.append(String.format("%-" + w + "s %7d %10.3f %10.1f %10.1f %5.1f%%%n", "total", runs, total / 1e6,
                steadyRuns == 0 ? 0.0 : steady / 1e3 / steadyRuns, first / 1e3, steady == 0 ? 0.0 : 100.0));
        return s.toString();
    }

    /// The graph's name.
    public String graph() { return plan.name(); }

    /// `table()`, so that printing a profile shows it.
    @Override public String toString() { return table(); }

    /// Whether `-Dkiln.profile=true` or the environment variable `KILN_PROFILE=1` (or `true`)
    /// asks for every compiled graph to be profiled.
    public static boolean requested() {
        String env = System.getenv("KILN_PROFILE");
        return Boolean.getBoolean("kiln.profile") || "1".equals(env) || "true".equalsIgnoreCase(env);
    }

    /// `fused[dir/mlp.kir:18, dir/mlp.kir:19, Net.java:7 in fc]` -> `mlp.kir:18-19, Net.java:7`:
    /// each file once, without its folder, with the range of its lines.
    static String shortSource(String source) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("([^\\[\\](), ]+):(\\d+)").matcher(source);
        java.util.Map<String, int[]> lines = new java.util.LinkedHashMap<>();
        while (m.find()) {
            String file = m.group(1).substring(m.group(1).lastIndexOf('/') + 1);
            int line = Integer.parseInt(m.group(2));
            int[] range = lines.computeIfAbsent(file, _ -> new int[]{line, line});
            range[0] = Math.min(range[0], line);
            range[1] = Math.max(range[1], line);
        }
        if (lines.isEmpty()) return source;
        StringBuilder s = new StringBuilder();
        lines.forEach((f, r) -> s.append(s.isEmpty() ? "" : ", ").append(f).append(':').append(r[0]).append(r[1] > r[0] ? "-" + r[1] : ""));
        return s.toString();
    }
}
