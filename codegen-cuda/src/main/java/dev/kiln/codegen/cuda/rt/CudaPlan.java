package dev.kiln.codegen.cuda.rt;

import dev.kiln.runtime.DType;
import dev.kiln.runtime.PlanText;
import dev.kiln.runtime.Size;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/// What running a graph compiled to PTX needs besides the PTX itself, as plain data: the
/// parameters and results (names, types, which parameters are stored weights), the buffers
/// (their lengths as size expressions over the dimension symbols, and the memory slots the
/// intermediates share) and the kernel launches in order (entry, grid as size expressions,
/// block, arguments). `CudaPlanExecutable` runs a plan; a CUDA jar stores one as text
/// (`toText`, `kiln-cuda-plan 1`) so that it carries no compiler.
///
/// Invariant: buffer and symbol indices refer into this plan's own lists; a dimension in `dims`
/// is a fixed size (>= 0) or `-(symbol index + 1)`; a PARAM buffer's `index` is its parameter's
/// number, a CONST buffer's the number of its constant, a TEMP buffer's -1; `slot` is the memory
/// slot a TEMP buffer shares (-1: its own memory).
public record CudaPlan(String name, List<String> symbols, List<Param> params, List<Result> results, List<Buffer> buffers,
                       List<Launch> launches) {
    public CudaPlan {
        symbols = List.copyOf(symbols);
        params = List.copyOf(params);
        results = List.copyOf(results);
        buffers = List.copyOf(buffers);
        launches = List.copyOf(launches);
    }

    public enum Kind { PARAM, CONST, TEMP }

    /// Parameter `name` lives in `buffer`; `weight`: a CUDA jar takes its value from its stored
    /// tensors rather than from the caller.
    public record Param(String name, DType dtype, List<Integer> dims, int buffer, boolean weight) {
        public Param { dims = List.copyOf(dims); }
    }

    public record Result(String name, DType dtype, List<Integer> dims, int buffer) {
        public Result { dims = List.copyOf(dims); }
    }

    public record Buffer(DType dtype, Kind kind, int index, int slot, Size numel) {}

    /// One kernel launch; a launch whose grid has a dimension <= 0 at the bound sizes is skipped.
    public record Launch(String entry, Size gridX, Size gridY, Size gridZ, int block, List<Arg> args) {
        public Launch { args = List.copyOf(args); }
    }

    /// A kernel argument: the device address of a buffer, or a 32-bit size.
    public sealed interface Arg {}
    public record Buf(int id) implements Arg {}
    public record Int(Size value) implements Arg {}

    /// The type of parameter `i` as the IR writes it, e.g. `f32[B,784]`.
    public String paramType(int i) { return typeText(params.get(i).dtype(), params.get(i).dims()); }

    public String resultType(int i) { return typeText(results.get(i).dtype(), results.get(i).dims()); }

    String typeText(DType d, List<Integer> dims) {
        StringBuilder s = new StringBuilder(d.text()).append('[');
        for (int a = 0; a < dims.size(); a++) s.append(a > 0 ? "," : "").append(dims.get(a) >= 0 ? dims.get(a).toString() : symbols.get(-dims.get(a) - 1));
        return s.append(']').toString();
    }

    /// The same plan with the parameters named in `weights` marked as stored weights.
    public CudaPlan withWeights(java.util.Set<String> weights) {
        return new CudaPlan(name, symbols, params.stream().map(p -> new Param(p.name(), p.dtype(), p.dims(), p.buffer(), weights.contains(p.name()))).toList(),
                results, buffers, launches);
    }

    // ---- text form -----------------------------------------------------------------------------

    static final String MAGIC = "kiln-cuda-plan 1";

    /// A line per item, `kind key=value ...`; names are URL-encoded so that any name is one token.
    public String toText() {
        StringBuilder s = new StringBuilder(MAGIC).append('\n');
        s.append("graph name=").append(PlanText.enc(name)).append('\n');
        for (String sym : symbols) s.append("symbol name=").append(PlanText.enc(sym)).append('\n');
        for (Param p : params)
            s.append("param name=").append(PlanText.enc(p.name())).append(" dtype=").append(p.dtype().text()).append(" dims=").append(dims(p.dims()))
                    .append(" buffer=").append(p.buffer()).append(" weight=").append(p.weight()).append('\n');
        for (Result r : results)
            s.append("result name=").append(PlanText.enc(r.name())).append(" dtype=").append(r.dtype().text()).append(" dims=").append(dims(r.dims()))
                    .append(" buffer=").append(r.buffer()).append('\n');
        for (Buffer b : buffers)
            s.append("buffer dtype=").append(b.dtype().text()).append(" kind=").append(b.kind().name().toLowerCase()).append(" index=")
                    .append(b.index()).append(" slot=").append(b.slot()).append(" numel=").append(b.numel().text()).append('\n');
        for (Launch l : launches) {
            s.append("launch entry=").append(PlanText.enc(l.entry())).append(" grid=").append(l.gridX().text()).append(';').append(l.gridY().text())
                    .append(';').append(l.gridZ().text()).append(" block=").append(l.block()).append(" args=");
            for (int a = 0; a < l.args().size(); a++)
                s.append(a > 0 ? ";" : "").append(switch (l.args().get(a)) {
                    case Buf b -> "b" + b.id();
                    case Int n -> "i" + n.value().text();
                });
            s.append('\n');
        }
        return s.toString();
    }

    /// Parses `toText`'s form. Throws IllegalArgumentException, one line naming `source` and the
    /// line, for text that is not a well-formed plan of this version.
    public static CudaPlan parse(String text, String source) {
        String[] name = {null};
        List<String> symbols = new ArrayList<>();
        List<Param> params = new ArrayList<>();
        List<Result> results = new ArrayList<>();
        List<Buffer> buffers = new ArrayList<>();
        List<Launch> launches = new ArrayList<>();
        PlanText.read(text, MAGIC, "a Kiln CUDA plan", source, line -> {
            int n = symbols.size();
            switch (line.kind()) {
                case "graph" -> name[0] = line.name("name");
                case "symbol" -> symbols.add(line.name("name"));
                case "param" -> params.add(new Param(line.name("name"), line.dtype("dtype"), dims(line), line.integer("buffer"), bool(line.get("weight"))));
                case "result" -> results.add(new Result(line.name("name"), line.dtype("dtype"), dims(line), line.integer("buffer")));
                case "buffer" -> buffers.add(new Buffer(line.dtype("dtype"), kind(line.get("kind")), line.integer("index"), line.integer("slot"),
                        Size.parse(line.get("numel"), n)));
                case "launch" -> {
                    String[] grid = line.get("grid").split(";");
                    if (grid.length != 3) throw new IllegalArgumentException("grid needs three sizes, x;y;z");
                    List<Arg> args = new ArrayList<>();
                    for (String a : line.get("args").split(";")) {
                        if (a.startsWith("b")) args.add(new Buf(Integer.parseInt(a.substring(1))));
                        else if (a.startsWith("i")) args.add(new Int(Size.parse(a.substring(1), n)));
                        else if (!a.isEmpty()) throw new IllegalArgumentException(PlanText.unknown("argument (bN or iSIZE)", a));
                    }
                    launches.add(new Launch(line.name("entry"), Size.parse(grid[0], n), Size.parse(grid[1], n), Size.parse(grid[2], n),
                            line.integer("block"), args));
                }
                default -> throw new IllegalArgumentException(PlanText.unknown("item", line.kind()));
            }
        });
        if (name[0] == null) throw new IllegalArgumentException(source + ": no graph line");
        CudaPlan p = new CudaPlan(name[0], symbols, params, results, buffers, launches);
        p.check(source);
        return p;
    }

    /// Throws IllegalArgumentException naming `source` when an index points outside the plan.
    void check(String source) {
        for (Param p : params) {
            inRange(source, "param " + p.name() + ": buffer", p.buffer(), buffers.size());
            checkDims(source, "param " + p.name(), p.dims());
        }
        for (Result r : results) {
            inRange(source, "result " + r.name() + ": buffer", r.buffer(), buffers.size());
            checkDims(source, "result " + r.name(), r.dims());
        }
        for (int b = 0; b < buffers.size(); b++) {
            Buffer buf = buffers.get(b);
            if (buf.kind() == Kind.PARAM) inRange(source, "buffer " + b + ": parameter", buf.index(), params.size());
            if (buf.slot() < -1) throw new IllegalArgumentException(source + ": buffer " + b + ": slot " + buf.slot() + " out of range");
        }
        for (Launch l : launches) {
            if (l.block() <= 0 || l.block() > 1024) throw new IllegalArgumentException(source + ": launch " + l.entry() + ": block " + l.block() + " out of range");
            for (Arg a : l.args()) if (a instanceof Buf(int id)) inRange(source, "launch " + l.entry() + ": buffer", id, buffers.size());
        }
    }

    private void checkDims(String source, String what, List<Integer> dims) {
        for (int d : dims) if (d < -symbols.size()) throw new IllegalArgumentException(source + ": " + what + ": dimension names a missing symbol");
    }

    private static void inRange(String source, String what, int i, int n) {
        if (i < 0 || i >= n) throw new IllegalArgumentException(source + ": " + what + " " + i + " out of range");
    }

    private static boolean bool(String s) {
        if (!s.equals("true") && !s.equals("false")) throw new IllegalArgumentException(PlanText.unknown("weight= value", s));
        return s.equals("true");
    }

    private static Kind kind(String s) {
        for (Kind k : Kind.values()) if (k.name().toLowerCase().equals(s)) return k;
        throw new IllegalArgumentException(PlanText.unknown("buffer kind", s));
    }

    private static String dims(List<Integer> d) { return PlanText.dims(d.stream().mapToInt(Integer::intValue).toArray()); }

    private static List<Integer> dims(PlanText.Line line) { return Arrays.stream(line.dims("dims")).boxed().toList(); }
}
