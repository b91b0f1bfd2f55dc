package dev.kiln.codegen.jvm.rt;

import dev.kiln.runtime.DType;
import dev.kiln.runtime.PlanText;
import dev.kiln.runtime.Size;

import java.util.ArrayList;
import java.util.List;

/// A compiled graph's run-time description as plain data: its parameters and results, its
/// buffers and their memory slots, and its tasks in order with their loop extents as size
/// expressions. It is everything `PlanExecutable` needs besides the generated `KernelSet`, so
/// a standalone jar carries a plan (as text, see `toText`) instead of the compiler's kernel IR.
///
/// Parameters carry a `Role` that says where a standalone model takes each one from: the
/// caller (INPUT), the jar's stored tensors (WEIGHT; CONST for values captured while tracing,
/// which a training step does not save), the stored tensors and then the result that updates
/// it (STATE, in a training step), the step counter (STEP), or a fresh random seed (SEED).
///
/// Invariant: buffer, kernel, result and symbol indices refer into this plan's own lists, and
/// a dimension in `dims` is a fixed size (>= 0) or `-(symbol index + 1)`.
public record Plan(String name, List<String> symbols, List<Param> params, List<Result> results,
                   List<Buffer> buffers, List<DType> slotTypes, List<Kernel> kernels, List<Task> tasks) {

    public Plan {
        symbols = List.copyOf(symbols);
        params = List.copyOf(params);
        results = List.copyOf(results);
        buffers = List.copyOf(buffers);
        slotTypes = List.copyOf(slotTypes);
        kernels = List.copyOf(kernels);
        tasks = List.copyOf(tasks);
    }

    public enum Role { INPUT, WEIGHT, CONST, STATE, STEP, SEED }

    public enum Kind { PARAM, CONST, TEMP }

    /// LOOP: run by the executor, splittable over its outer loop; CALL: a library call, run
    /// whole; EPILOGUE: run by the call before it, never by the executor.
    public enum TaskKind { LOOP, CALL, EPILOGUE }

    /// Parameter `name` lives in `buffer`; a STATE parameter is replaced by result `update`
    /// after each run (-1 otherwise).
    public record Param(String name, DType dtype, int[] dims, int buffer, Role role, int update) {
        public Param withRole(Role r, int u) { return new Param(name, dtype, dims, buffer, r, u); }
    }

    public record Result(String name, DType dtype, int[] dims, int buffer) {
        public Result withName(String n) { return new Result(n, dtype, dims, buffer); }
    }

    /// A CONST buffer holds constant number `index`; a TEMP buffer lives in memory slot `slot`
    /// (-1: a result, which gets its own array).
    public record Buffer(String name, DType dtype, Kind kind, int index, int slot, Size numel) {}

    public record Kernel(String name, String source) {}

    /// `extent` and `work` (iterations, for the decision to split) matter for LOOP tasks;
    /// `flops` and `bytes` are estimates of one run of the task, for profiles.
    public record Task(int kernel, TaskKind kind, Size extent, Size work, Size flops, Size bytes) {}

    /// The type of parameter `i` as the IR writes it, e.g. `f32[B,784]`.
    public String paramType(int i) { return typeText(params.get(i).dtype(), params.get(i).dims()); }

    public String resultType(int i) { return typeText(results.get(i).dtype(), results.get(i).dims()); }

    public String typeText(DType d, int[] dims) {
        StringBuilder s = new StringBuilder(d.text()).append('[');
        for (int a = 0; a < dims.length; a++) s.append(a > 0 ? "," : "").append(dims[a] >= 0 ? Integer.toString(dims[a]) : symbols.get(-dims[a] - 1));
        return s.append(']').toString();
    }

    public Plan withParams(List<Param> p) { return new Plan(name, symbols, p, results, buffers, slotTypes, kernels, tasks); }

    public Plan withResults(List<Result> r) { return new Plan(name, symbols, params, r, buffers, slotTypes, kernels, tasks); }

    // ---- text form -----------------------------------------------------------------------------

    private static final String MAGIC = "kiln-plan 1";

    /// Line per item, `kind key=value ...`; names are URL-encoded so that any name fits in one token.
    public String toText() {
        StringBuilder s = new StringBuilder(MAGIC).append('\n');
        s.append("graph name=").append(PlanText.enc(name)).append('\n');
        for (String sym : symbols) s.append("symbol name=").append(PlanText.enc(sym)).append('\n');
        for (Param p : params)
            s.append("param name=").append(PlanText.enc(p.name())).append(" dtype=").append(p.dtype().text()).append(" dims=").append(PlanText.dims(p.dims()))
                    .append(" buffer=").append(p.buffer()).append(" role=").append(p.role().name().toLowerCase())
                    .append(" update=").append(p.update()).append('\n');
        for (Result r : results)
            s.append("result name=").append(PlanText.enc(r.name())).append(" dtype=").append(r.dtype().text()).append(" dims=").append(PlanText.dims(r.dims()))
                    .append(" buffer=").append(r.buffer()).append('\n');
        for (Buffer b : buffers)
            s.append("buffer name=").append(PlanText.enc(b.name())).append(" dtype=").append(b.dtype().text()).append(" kind=")
                    .append(b.kind().name().toLowerCase()).append(" index=").append(b.index()).append(" slot=").append(b.slot())
                    .append(" numel=").append(b.numel().text()).append('\n');
        for (DType d : slotTypes) s.append("slot dtype=").append(d.text()).append('\n');
        for (Kernel k : kernels) s.append("kernel name=").append(PlanText.enc(k.name())).append(" source=").append(PlanText.enc(k.source())).append('\n');
        for (Task t : tasks)
            s.append("task kernel=").append(t.kernel()).append(" kind=").append(t.kind().name().toLowerCase())
                    .append(" extent=").append(t.extent().text()).append(" work=").append(t.work().text())
                    .append(" flops=").append(t.flops().text()).append(" bytes=").append(t.bytes().text()).append('\n');
        return s.toString();
    }

    /// Parses `toText`'s form; `source` names the text in errors (IllegalArgumentException).
    public static Plan parse(String text, String source) {
        String[] name = {null};
        List<String> symbols = new ArrayList<>();
        List<Param> params = new ArrayList<>();
        List<Result> results = new ArrayList<>();
        List<Buffer> buffers = new ArrayList<>();
        List<DType> slots = new ArrayList<>();
        List<Kernel> kernels = new ArrayList<>();
        List<Task> tasks = new ArrayList<>();
        PlanText.read(text, MAGIC, "a Kiln plan", source, line -> {
            int n = symbols.size();
            switch (line.kind()) {
                case "graph" -> name[0] = line.name("name");
                case "symbol" -> symbols.add(line.name("name"));
                case "param" -> params.add(new Param(line.name("name"), line.dtype("dtype"), line.dims("dims"), line.integer("buffer"),
                        Role.valueOf(line.get("role").toUpperCase()), line.integer("update")));
                case "result" -> results.add(new Result(line.name("name"), line.dtype("dtype"), line.dims("dims"), line.integer("buffer")));
                case "buffer" -> buffers.add(new Buffer(line.name("name"), line.dtype("dtype"), Kind.valueOf(line.get("kind").toUpperCase()),
                        line.integer("index"), line.integer("slot"), Size.parse(line.get("numel"), n)));
                case "slot" -> slots.add(line.dtype("dtype"));
                case "kernel" -> kernels.add(new Kernel(line.name("name"), line.name("source")));
                case "task" -> tasks.add(new Task(line.integer("kernel"), TaskKind.valueOf(line.get("kind").toUpperCase()),
                        Size.parse(line.get("extent"), n), Size.parse(line.get("work"), n), Size.parse(line.get("flops"), n),
                        Size.parse(line.get("bytes"), n)));
                default -> throw new IllegalArgumentException(PlanText.unknown("item", line.kind()));
            }
        });
        if (name[0] == null) throw new IllegalArgumentException(source + ": no graph line");
        Plan p = new Plan(name[0], symbols, params, results, buffers, slots, kernels, tasks);
        p.check(source);
        return p;
    }

    /// Throws IllegalArgumentException naming `source` when an index points outside the plan.
    void check(String source) {
        for (Param p : params) {
            inRange(source, "param " + p.name() + " buffer", p.buffer(), buffers.size());
            if (p.update() >= results.size()) throw new IllegalArgumentException(source + ": param " + p.name() + " updated by missing result");
            checkDims(source, p.dims());
        }
        for (Result r : results) {
            inRange(source, "result " + r.name() + " buffer", r.buffer(), buffers.size());
            checkDims(source, r.dims());
        }
        for (Buffer b : buffers) if (b.slot() >= slotTypes.size()) throw new IllegalArgumentException(source + ": buffer " + b.name() + " slot");
        for (Task t : tasks) inRange(source, "task kernel", t.kernel(), kernels.size());
    }

    private void checkDims(String source, int[] dims) {
        for (int d : dims) if (d < -symbols.size()) throw new IllegalArgumentException(source + ": dimension names a missing symbol");
    }

    private static void inRange(String source, String what, int i, int n) {
        if (i < 0 || i >= n) throw new IllegalArgumentException(source + ": " + what + " " + i + " out of range");
    }
}
