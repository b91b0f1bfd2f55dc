package dev.kiln.codegen.cuda;

import dev.kiln.ir.kernel.Kir;
import dev.kiln.ir.kernel.Kir.Buffer;
import dev.kiln.ir.kernel.KernelProgram;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/// A CPU simulator of the PTX subset Kiln's GEMM kernels are made of (integer and f32
/// arithmetic, predicates and branches, global and shared memory, `bar.sync`, `red.global.add`,
/// `cvt.rna.tf32.f32`, `cvt.rn.bf16x2.f32` and `mma.sync.aligned.m16n8k8` for tf32 and bf16
/// with the PTX ISA's fragment layouts), so
/// that the tiled kernels' index arithmetic (staging maps, shared offsets, fragment and output
/// mapping, tile edges, split K) is checked without a GPU. It runs a whole `PtxProgram`, block
/// by block; each thread runs until it reaches a barrier or an `mma` (collective: all lanes of
/// the warp must reach the same one), and every global and shared access is bounds-checked
/// against its buffer, so an out-of-bounds read is an error naming the instruction.
///
/// What it does not model: timing, races beyond barrier order, and the hardware's own rounding
/// inside `mma` (products are summed in f64, then rounded to f32). An unknown instruction is an
/// error, so the subset grows only deliberately.
final class PtxSim {
    /// One decoded instruction: guard predicate (register index or -1, negated), opcode parts, operands.
    record Insn(int guard, boolean negate, String[] op, String[] args, String text) {}

    record Entry(String name, List<String> params, Map<String, Integer> regs, List<Insn> code, Map<String, Integer> labels, int shared) {}

    final Map<String, Entry> entries = new HashMap<>();
    /// Global memory: buffer i lives at addresses `(i + 1) << 32` onward.
    final List<byte[]> global = new ArrayList<>();
    final Map<String, Long> immediates = new HashMap<>();
    static final java.util.Set<String> WORD = java.util.Set.of("f32", "b32", "s32", "u32");

    PtxSim(String module) {
        String[] lines = module.split("\n");
        for (int i = 0; i < lines.length; i++) {
            String l = lines[i].strip();
            if (!l.startsWith(".visible .entry ")) continue;
            String name = l.substring(".visible .entry ".length(), l.indexOf('('));
            List<String> params = new ArrayList<>();
            Map<String, Integer> regs = new HashMap<>();
            Map<String, Integer> labels = new HashMap<>();
            List<String> body = new ArrayList<>();
            int shared = 0;
            for (i++; !lines[i].strip().equals("}"); i++) {
                String s = lines[i].strip();
                int c = s.indexOf("//");
                if (c >= 0) s = s.substring(0, c).strip();
                if (s.isEmpty() || s.equals("{") || s.equals(")")) continue;
                if (s.startsWith(".param ")) params.add(s.replace(",", "").split(" ")[2]);
                else if (s.startsWith(".shared ")) shared = Integer.parseInt(s.substring(s.indexOf('[') + 1, s.indexOf(']')));
                else if (s.startsWith(".reg ")) {
                    String decl = s.split(" ")[2];
                    String prefix = decl.substring(0, decl.indexOf('<'));
                    int n = Integer.parseInt(decl.substring(decl.indexOf('<') + 1, decl.indexOf('>')));
                    for (int k = 0; k < n; k++) regs.put(prefix + k, regs.size());
                } else body.add(s);
            }
            List<Insn> code = new ArrayList<>();
            for (String s : body) {
                if (s.endsWith(":")) { labels.put(s.substring(0, s.length() - 1), code.size()); continue; }
                code.add(decode(s, regs));
            }
            entries.put(name, new Entry(name, params, regs, code, labels, shared));
        }
    }

    static Insn decode(String s, Map<String, Integer> regs) {
        String text = s;
        int guard = -1;
        boolean negate = false;
        if (s.startsWith("@")) {
            int sp = s.indexOf(' ');
            String g = s.substring(1, sp);
            negate = g.startsWith("!");
            guard = regs.get(negate ? g.substring(1) : g);
            s = s.substring(sp + 1).strip();
        }
        if (s.endsWith(";")) s = s.substring(0, s.length() - 1);
        int sp = s.indexOf(' ');
        String op = sp < 0 ? s : s.substring(0, sp), rest = sp < 0 ? "" : s.substring(sp + 1);
        List<String> args = new ArrayList<>();
        int depth = 0, start = 0;
        for (int i = 0; i < rest.length(); i++) {
            char ch = rest.charAt(i);
            if (ch == '{' || ch == '[') depth++;
            else if (ch == '}' || ch == ']') depth--;
            else if (ch == ',' && depth == 0) { args.add(rest.substring(start, i).strip()); start = i + 1; }
        }
        if (!rest.isBlank()) args.add(rest.substring(start).strip());
        return new Insn(guard, negate, op.split("\\."), args.toArray(String[]::new), text);
    }

    // ---- running a program -----------------------------------------------------------------

    /// Runs every launch of `p` with the symbols bound to `dims` on `inputs` (one per program
    /// parameter); returns the program's results.
    static List<NdArray> run(PtxProgram p, Map<String, Integer> dims, List<NdArray> inputs) {
        KernelProgram kp = p.program();
        PtxSim sim = new PtxSim(p.ptx());
        for (Buffer b : kp.buffers()) {
            int n = (int) Kir.eval(b.numel(), dims::get);
            if (b.dtype() != DType.F32) throw new IllegalArgumentException("the simulator holds f32 buffers only, not " + b.dtype());
            NdArray a = switch (b.kind()) {
                case PARAM -> inputs.get(b.index());
                case CONST -> kp.constants().get(b.index());
                case TEMP -> NdArray.zeros(DType.F32, n);
            };
            byte[] bytes = new byte[n * 4];
            for (int i = 0; i < n; i++) putInt(bytes, i * 4, Float.floatToRawIntBits((float) a.getDouble(i)));
            while (sim.global.size() <= b.id()) sim.global.add(null);
            sim.global.set(b.id(), bytes);
        }
        for (Launch l : p.launches()) {
            int[] grid = {(int) Kir.eval(l.gridX(), dims::get), (int) Kir.eval(l.gridY(), dims::get),
                    (int) Kir.eval(l.gridZ(), dims::get)};
            if (grid[0] <= 0 || grid[1] <= 0 || grid[2] <= 0) continue;
            long[] args = new long[l.args().size()];
            for (int i = 0; i < args.length; i++)
                args[i] = switch (l.args().get(i)) {
                    case Launch.Buf b -> (long) (b.id() + 1) << 32;
                    case Launch.Int n -> Kir.eval(n.value(), dims::get);
                };
            sim.launch(l.entry(), grid, l.block(), args);
        }
        List<NdArray> out = new ArrayList<>();
        for (int r : kp.results()) {
            byte[] bytes = sim.global.get(r);
            NdArray a = NdArray.zeros(DType.F32, bytes.length / 4);
            for (int i = 0; i < a.size(); i++) a.setDouble(i, Float.intBitsToFloat(getInt(bytes, i * 4)));
            out.add(a);
        }
        return out;
    }

    void launch(String name, int[] grid, int block, long[] args) {
        Entry e = entries.get(name);
        if (e == null) throw new IllegalArgumentException("no entry " + name);
        for (int z = 0; z < grid[2]; z++)
            for (int y = 0; y < grid[1]; y++)
                for (int x = 0; x < grid[0]; x++) new Block(e, grid, new int[]{x, y, z}, block, args).run();
    }

    static void putInt(byte[] b, int off, int v) {
        b[off] = (byte) v; b[off + 1] = (byte) (v >> 8); b[off + 2] = (byte) (v >> 16); b[off + 3] = (byte) (v >> 24);
    }

    static int getInt(byte[] b, int off) {
        return (b[off] & 0xff) | (b[off + 1] & 0xff) << 8 | (b[off + 2] & 0xff) << 16 | (b[off + 3] & 0xff) << 24;
    }

    /// One thread block: its threads, its shared memory.
    private final class Block {
        final Entry e;
        final int[] grid, ctaid;
        final int size;
        final long[] args;
        final byte[] shared;
        final long[][] regs;
        final int[] pc;
        /// 0 running, 1 at a barrier, 2 at an mma, 3 exited.
        final int[] state;

        Block(Entry e, int[] grid, int[] ctaid, int size, long[] args) {
            this.e = e; this.grid = grid; this.ctaid = ctaid; this.size = size; this.args = args;
            shared = new byte[e.shared()];
            regs = new long[size][e.regs().size()];
            pc = new int[size];
            state = new int[size];
        }

        void run() {
            while (true) {
                for (int t = 0; t < size; t++) if (state[t] == 0) step(t);
                boolean progress = false;
                for (int w = 0; w < size; w += 32) {
                    int at = -1;
                    boolean all = true;
                    for (int t = w; t < Math.min(size, w + 32); t++) {
                        if (state[t] == 3) continue;
                        if (state[t] != 2 || (at >= 0 && pc[t] != at)) { all = false; break; }
                        at = pc[t];
                    }
                    if (all && at >= 0) {
                        Insn c = e.code().get(at);
                        if (c.op()[0].equals("mma")) mma(w, c);
                        else shfl(w, c);
                        for (int t = w; t < Math.min(size, w + 32); t++) if (state[t] == 2) { state[t] = 0; pc[t]++; }
                        progress = true;
                    }
                }
                if (progress) continue;
                boolean allDone = true, allBar = true;
                for (int t = 0; t < size; t++) {
                    if (state[t] != 3) allDone = false;
                    if (state[t] != 3 && state[t] != 1) allBar = false;
                }
                if (allDone) return;
                if (!allBar) throw new IllegalStateException(e.name() + ": threads stopped at different collectives (deadlock)");
                for (int t = 0; t < size; t++) if (state[t] == 1) { state[t] = 0; pc[t]++; }
            }
        }

        /// Runs thread `t` until it parks (barrier, mma) or exits.
        void step(int t) {
            long[] r = regs[t];
            List<Insn> code = e.code();
            while (true) {
                Insn in = code.get(pc[t]);
                if (in.guard() >= 0 && (r[in.guard()] != 0) == in.negate()) { pc[t]++; continue; }
                try {
                    switch (in.op()[0]) {
                        case "bar" -> { state[t] = 1; return; }
                        case "mma", "shfl" -> { state[t] = 2; return; }
                        case "ret" -> { state[t] = 3; return; }
                        case "bra" -> { pc[t] = label(in.args()[0]); continue; }
                        default -> exec(t, in, r);
                    }
                } catch (RuntimeException x) {
                    throw new IllegalStateException(e.name() + " block " + java.util.Arrays.toString(ctaid) + " thread " + t + ": `" + in.text()
                            + "`: " + x.getMessage(), x);
                }
                pc[t]++;
            }
        }

        int label(String name) {
            Integer at = e.labels().get(name);
            if (at == null) throw new IllegalStateException("no label " + name);
            return at;
        }

        int reg(String name) {
            Integer i = e.regs().get(name);
            if (i == null) throw new IllegalStateException("undeclared register " + name);
            return i;
        }

        /// The value of an operand: a register, an immediate, a special register, `smem`.
        long value(int t, String a, String type) {
            long[] r = regs[t];
            if (a.startsWith("%")) {
                return switch (a) {
                    case "%tid.x" -> t;
                    case "%ntid.x" -> size;
                    case "%ctaid.x" -> ctaid[0];
                    case "%ctaid.y" -> ctaid[1];
                    case "%ctaid.z" -> ctaid[2];
                    case "%nctaid.x" -> grid[0];
                    case "%nctaid.y" -> grid[1];
                    case "%nctaid.z" -> grid[2];
                    default -> r[reg(a)];
                };
            }
            if (a.equals("smem")) return 0;
            Long imm = immediates.get(a); // parsed once: the simulator spends its time here otherwise
            if (imm == null) {
                imm = a.startsWith("0f") ? Integer.parseUnsignedInt(a.substring(2), 16) & 0xffffffffL
                        : a.startsWith("0d") || a.startsWith("0x") ? Long.parseUnsignedLong(a.substring(2), 16)
                        : a.matches("-?[0-9]+") ? Long.parseLong(a) : null;
                if (imm == null) throw new IllegalStateException("operand " + a + " not simulated");
                immediates.put(a, imm);
            }
            return imm;
        }

        /// `[reg+off]` as an address.
        long address(int t, String m) {
            String in = m.substring(1, m.length() - 1);
            int plus = in.indexOf('+');
            return plus < 0 ? value(t, in, "u64") : value(t, in.substring(0, plus), "u64") + Long.parseLong(in.substring(plus + 1));
        }

        byte[] memory(String space, long addr, int bytes) {
            if (space.equals("shared")) {
                if (addr < 0 || addr + bytes > shared.length) throw new IllegalStateException("shared access at " + addr + " outside [0, " + shared.length + ")");
                return shared;
            }
            int buf = (int) (addr >>> 32) - 1;
            long off = addr & 0xffffffffL;
            if (buf < 0 || buf >= global.size() || global.get(buf) == null || off + bytes > global.get(buf).length || (off & 3) != 0)
                throw new IllegalStateException("global access outside buffer " + buf + " at byte " + off);
            return global.get(buf);
        }

        int offset(String space, long addr) { return space.equals("shared") ? (int) addr : (int) (addr & 0xffffffffL); }

        void exec(int t, Insn in, long[] r) {
            String[] op = in.op(), a = in.args();
            String type = op[op.length - 1];
            switch (op[0]) {
                case "ld" -> {
                    if (op[1].equals("param")) {
                        String name = a[1].substring(1, a[1].length() - 1);
                        r[reg(a[0])] = args[e.params().indexOf(name)];
                        return;
                    }
                    long addr = address(t, a[1]);
                    if (op[2].equals("v4")) {
                        String[] d = a[0].substring(1, a[0].length() - 1).split(",");
                        byte[] m = memory(op[1], addr, 16);
                        if ((addr & 15) != 0) throw new IllegalStateException("misaligned 16-byte load at " + addr);
                        for (int k = 0; k < 4; k++) r[reg(d[k].strip())] = getInt(m, offset(op[1], addr) + 4 * k) & 0xffffffffL;
                        return;
                    }
                    if (type.endsWith("64")) {
                        byte[] m = memory(op[1], addr, 8);
                        int o = offset(op[1], addr);
                        r[reg(a[0])] = (getInt(m, o) & 0xffffffffL) | (long) getInt(m, o + 4) << 32;
                        return;
                    }
                    if (!WORD.contains(type)) throw new IllegalStateException("unsupported load type " + type);
                    r[reg(a[0])] = getInt(memory(op[1], addr, 4), offset(op[1], addr)) & 0xffffffffL;
                }
                case "st" -> {
                    long addr = address(t, a[0]);
                    if (op[2].equals("v4")) {
                        String[] v = a[1].substring(1, a[1].length() - 1).split(",");
                        byte[] m = memory(op[1], addr, 16);
                        if ((addr & 15) != 0) throw new IllegalStateException("misaligned 16-byte store at " + addr);
                        for (int k = 0; k < 4; k++) putInt(m, offset(op[1], addr) + 4 * k, (int) value(t, v[k].strip(), type));
                        return;
                    }
                    if (type.endsWith("64")) {
                        long v = value(t, a[1], type);
                        byte[] m = memory(op[1], addr, 8);
                        putInt(m, offset(op[1], addr), (int) v);
                        putInt(m, offset(op[1], addr) + 4, (int) (v >>> 32));
                        return;
                    }
                    if (!WORD.contains(type)) throw new IllegalStateException("unsupported store type " + type);
                    putInt(memory(op[1], addr, 4), offset(op[1], addr), (int) value(t, a[1], type));
                }
                case "red" -> { // red.global.add.f32
                    long addr = address(t, a[0]);
                    byte[] m = memory(op[1], addr, 4);
                    int o = offset(op[1], addr);
                    putInt(m, o, Float.floatToRawIntBits(Float.intBitsToFloat(getInt(m, o)) + f(value(t, a[1], "f32"))));
                }
                case "cvta" -> r[reg(a[0])] = value(t, a[1], "u64");
                case "mov" -> {
                    if (a[0].startsWith("{")) { // mov.b64 {lo, hi}, x
                        String[] d = a[0].substring(1, a[0].length() - 1).split(",");
                        long v = value(t, a[1], type);
                        r[reg(d[0].strip())] = v & 0xffffffffL;
                        r[reg(d[1].strip())] = v >>> 32;
                    } else if (a[1].startsWith("{")) { // mov.b64 x, {lo, hi}
                        String[] h = a[1].substring(1, a[1].length() - 1).split(",");
                        r[reg(a[0])] = (value(t, h[0].strip(), "b32") & 0xffffffffL) | value(t, h[1].strip(), "b32") << 32;
                    } else r[reg(a[0])] = value(t, a[1], type);
                }
                case "cvt" -> {
                    if (op[op.length - 2].equals("bf16x2")) // a to the high half, b to the low
                        r[reg(a[0])] = (long) bf16((int) value(t, a[1], "f32")) << 16 | bf16((int) value(t, a[2], "f32"));
                    else r[reg(a[0])] = convert(op, value(t, a[1], op[op.length - 1]));
                }
                case "testp" -> {
                    double x = fv(value(t, a[1], type), type);
                    r[reg(a[0])] = switch (op[1]) {
                        case "notanumber" -> Double.isNaN(x);
                        case "finite" -> Double.isFinite(x);
                        default -> throw new IllegalStateException("unsupported testp");
                    } ? 1 : 0;
                }
                case "copysign" -> { // copysign d, a, b: b with a's sign
                    double x = fv(value(t, a[1], type), type), y = fv(value(t, a[2], type), type);
                    r[reg(a[0])] = fb(Math.copySign(y, x), type);
                }
                case "setp" -> {
                    boolean v = compare(op[1], type, value(t, a[1], type), value(t, a[2], type));
                    if (op.length == 4) v = v && r[reg(a[3])] != 0; // setp.cmp.and.type
                    r[reg(a[0])] = v ? 1 : 0;
                }
                case "selp" -> r[reg(a[0])] = r[reg(a[3])] != 0 ? value(t, a[1], type) : value(t, a[2], type);
                case "fma" -> r[reg(a[0])] = type.equals("f64")
                        ? Double.doubleToRawLongBits(Math.fma(fv(value(t, a[1], type), type), fv(value(t, a[2], type), type), fv(value(t, a[3], type), type)))
                        : bits(Math.fma(f(value(t, a[1], "f32")), f(value(t, a[2], "f32")), f(value(t, a[3], "f32"))));
                case "add", "sub", "mul", "mad", "div", "rem", "min", "max", "and", "or", "xor", "shl", "shr", "not", "neg", "sqrt", "abs" ->
                        r[reg(a[0])] = arith(op, type, t, a);
                default -> throw new IllegalStateException("instruction not simulated");
            }
        }

        static float f(long bits) { return Float.intBitsToFloat((int) bits); }

        static double fv(long bits, String type) { return type.equals("f64") ? Double.longBitsToDouble(bits) : Float.intBitsToFloat((int) bits); }

        static long fb(double v, String type) {
            return type.equals("f64") ? Double.doubleToRawLongBits(v) : Float.floatToRawIntBits((float) v) & 0xffffffffL;
        }

        /// `cvt[.mode].dst.src` of raw bits `x`, with Java's rules where PTX has the same ones
        /// (float to int truncates, saturates, NaN to 0).
        static long convert(String[] op, long x) {
            String dst = op[op.length - 2], src = op[op.length - 1], mode = op.length == 4 ? op[1] : "";
            if (dst.equals("tf32")) return tf32((int) x) & 0xffffffffL;
            boolean fromFloat = src.startsWith("f"), toFloat = dst.startsWith("f");
            if (fromFloat) {
                double v = fv(x, src);
                if (toFloat) return fb(mode.equals("rni") ? Math.rint(v) : v, dst);
                return switch (dst) {
                    case "s32" -> (int) v & 0xffffffffL;
                    case "s64" -> (long) v;
                    default -> throw new IllegalStateException("unsupported conversion to " + dst);
                };
            }
            long v = switch (src) {
                case "s32" -> (int) x;
                case "u32" -> x & 0xffffffffL;
                case "s64", "u64" -> x;
                default -> throw new IllegalStateException("unsupported conversion from " + src);
            };
            if (toFloat) {
                double d = src.equals("u64") && v < 0 ? (double) (v >>> 1) * 2 + (v & 1) : (double) v;
                return fb(d, dst);
            }
            return dst.endsWith("32") ? v & 0xffffffffL : v;
        }

        static long bits(float v) { return Float.floatToRawIntBits(v) & 0xffffffffL; }

        long arith(String[] op, String type, int t, String[] a) {
            if (type.equals("pred")) {
                boolean x = value(t, a[1], type) != 0;
                return switch (op[0]) {
                    case "not" -> x ? 0 : 1;
                    case "and" -> x && value(t, a[2], type) != 0 ? 1 : 0;
                    case "or" -> x || value(t, a[2], type) != 0 ? 1 : 0;
                    case "xor" -> x ^ value(t, a[2], type) != 0 ? 1 : 0;
                    default -> throw new IllegalStateException("unsupported predicate operation");
                };
            }
            if (type.equals("f32") || type.equals("f64")) { // in f64, rounded once to the type (exact for these)
                double x = fv(value(t, a[1], type), type), y = a.length > 2 ? fv(value(t, a[2], type), type) : 0;
                return fb(switch (op[0]) {
                    case "add" -> x + y;
                    case "sub" -> x - y;
                    case "mul" -> x * y;
                    case "neg" -> -x;
                    case "div" -> x / y;
                    case "sqrt" -> Math.sqrt(x);
                    case "abs" -> Math.abs(x);
                    case "min" -> Double.isNaN(x) ? y : Double.isNaN(y) ? x : Math.min(x, y);
                    case "max" -> Double.isNaN(x) ? y : Double.isNaN(y) ? x : Math.max(x, y);
                    default -> throw new IllegalStateException("unsupported float operation");
                }, type);
            }
            boolean wide = type.endsWith("64"), signed = type.startsWith("s");
            long x = value(t, a[1], type), y = a.length > 2 ? value(t, a[2], type) : 0;
            if (op[0].equals("mul") && op[1].equals("wide")) // 32 x 32 -> 64
                return signed ? (long) (int) x * (long) (int) y : (x & 0xffffffffL) * (y & 0xffffffffL);
            if (!wide) { x = signed ? (int) x : x & 0xffffffffL; y = signed ? (int) y : y & 0xffffffffL; }
            long v = switch (op[0]) {
                case "add" -> x + y;
                case "sub" -> x - y;
                case "mul" -> x * y; // mul.lo
                case "mad" -> x * y + (wide ? value(t, a[3], type) : signed ? (int) value(t, a[3], type) : value(t, a[3], type) & 0xffffffffL);
                case "div" -> y == 0 ? 0 : signed || wide ? x / y : Long.divideUnsigned(x, y);
                case "rem" -> y == 0 ? 0 : signed || wide ? x % y : Long.remainderUnsigned(x, y);
                case "min" -> Math.min(x, y);
                case "max" -> Math.max(x, y);
                case "and" -> x & y;
                case "or" -> x | y;
                case "xor" -> x ^ y;
                case "not" -> ~x;
                case "neg" -> -x;
                case "shl" -> x << y;
                case "shr" -> signed ? x >> y : (wide ? x >>> y : (x & 0xffffffffL) >>> y);
                default -> throw new IllegalStateException("unsupported integer operation");
            };
            return wide ? v : v & 0xffffffffL;
        }

        boolean compare(String cmp, String type, long x, long y) {
            if (type.equals("f32") || type.equals("f64")) {
                double p = fv(x, type), q = fv(y, type);
                return switch (cmp) {
                    case "eq" -> p == q; case "ne" -> p != q && !Double.isNaN(p) && !Double.isNaN(q);
                    case "lt" -> p < q; case "le" -> p <= q; case "gt" -> p > q; case "ge" -> p >= q;
                    case "gtu" -> !(p <= q); case "ltu" -> !(p >= q); case "geu" -> !(p < q); case "leu" -> !(p > q);
                    case "equ" -> !(p < q || p > q); case "neu" -> p != q;
                    case "nan" -> Double.isNaN(p) || Double.isNaN(q); case "num" -> !Double.isNaN(p) && !Double.isNaN(q);
                    default -> throw new IllegalStateException("unsupported float comparison " + cmp);
                };
            }
            boolean signed = type.startsWith("s");
            if (!type.endsWith("64")) { x = signed ? (int) x : x & 0xffffffffL; y = signed ? (int) y : y & 0xffffffffL; }
            int c = signed || type.endsWith("64") ? Long.compare(x, y) : Long.compareUnsigned(x, y);
            return switch (cmp) {
                case "eq" -> c == 0; case "ne" -> c != 0; case "lt" -> c < 0; case "le" -> c <= 0; case "gt" -> c > 0; case "ge" -> c >= 0;
                default -> throw new IllegalStateException("unsupported comparison " + cmp);
            };
        }

        /// `shfl.sync.down.b32 d, a, off, 31, -1` for warp `w`: lane l gets lane l+off's `a`, or
        /// its own past the last lane.
        void shfl(int w, Insn in) {
            String[] a = in.args();
            if (!String.join(".", in.op()).equals("shfl.sync.down.b32") || !a[3].equals("31") || !a[4].equals("-1"))
                throw new IllegalStateException(e.name() + ": `" + in.text() + "`: shuffle form not simulated");
            int n = Math.min(32, size - w);
            long[] src = new long[n];
            for (int l = 0; l < n; l++) src[l] = value(w + l, a[1], "b32");
            for (int l = 0; l < n; l++) {
                int from = l + (int) value(w + l, a[2], "b32");
                regs[w + l][reg(a[0])] = src[from < n ? from : l];
            }
        }

        /// `mma.sync.aligned.m16n8k8.row.col.f32.{tf32.tf32,bf16.bf16}.f32 {d}, {a}, {b}, {c}` for
        /// warp `w`, with the PTX ISA's fragment layouts (lane l: g = l/4, t = l%4): tf32 A (g,t)
        /// (g+8,t) (g,t+4) (g+8,t+4), B (t,g) (t+4,g); bf16, two to a register, low half first:
        /// A (g,2t) (g,2t+1) | (g+8,2t) (g+8,2t+1), B (2t,g) (2t+1,g); C, D (g,2t) (g,2t+1) (g+8,2t)
        /// (g+8,2t+1). The products are exact and summed in double, rounded once to f32.
        void mma(int w, Insn in) {
            String shape = String.join(".", in.op());
            boolean bf16 = shape.equals("mma.sync.aligned.m16n8k8.row.col.f32.bf16.bf16.f32");
            if (!bf16 && !shape.equals("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32"))
                throw new IllegalStateException(e.name() + ": `" + in.text() + "`: mma shape not simulated");
            double[][] am = new double[16][8], bm = new double[8][8], cm = new double[16][8];
            String[][] ops = new String[4][];
            for (int i = 0; i < 4; i++) ops[i] = in.args()[i].substring(1, in.args()[i].length() - 1).split(",");
            for (int l = 0; l < 32; l++) {
                long[] r = regs[w + l];
                int g = l >> 2, t = l & 3;
                double[] cv = new double[4];
                for (int i = 0; i < 4; i++) cv[i] = f(r[reg(ops[3][i].strip())]);
                if (bf16) {
                    for (int h = 0; h < 2; h++) { // a0 a1 in register 0 (row g), a2 a3 in register 1 (row g+8)
                        int bits = (int) r[reg(ops[1][h].strip())];
                        am[g + 8 * h][2 * t] = Float.intBitsToFloat(bits << 16);
                        am[g + 8 * h][2 * t + 1] = Float.intBitsToFloat(bits & 0xffff0000);
                    }
                    int bits = (int) r[reg(ops[2][0].strip())];
                    bm[2 * t][g] = Float.intBitsToFloat(bits << 16);
                    bm[2 * t + 1][g] = Float.intBitsToFloat(bits & 0xffff0000);
                } else {
                    double[] av = new double[4], bv = new double[2];
                    for (int i = 0; i < 4; i++) av[i] = Float.intBitsToFloat((int) r[reg(ops[1][i].strip())] & 0xffffe000);
                    for (int i = 0; i < 2; i++) bv[i] = Float.intBitsToFloat((int) r[reg(ops[2][i].strip())] & 0xffffe000);
                    am[g][t] = av[0]; am[g + 8][t] = av[1]; am[g][t + 4] = av[2]; am[g + 8][t + 4] = av[3];
                    bm[t][g] = bv[0]; bm[t + 4][g] = bv[1];
                }
                cm[g][2 * t] = cv[0]; cm[g][2 * t + 1] = cv[1]; cm[g + 8][2 * t] = cv[2]; cm[g + 8][2 * t + 1] = cv[3];
            }
            float[][] d = new float[16][8];
            for (int i = 0; i < 16; i++)
                for (int j = 0; j < 8; j++) {
                    double s = cm[i][j];
                    for (int k = 0; k < 8; k++) s += am[i][k] * bm[k][j];
                    d[i][j] = (float) s;
                }
            for (int l = 0; l < 32; l++) {
                long[] r = regs[w + l];
                int g = l >> 2, t = l & 3;
                float[] dv = {d[g][2 * t], d[g][2 * t + 1], d[g + 8][2 * t], d[g + 8][2 * t + 1]};
                for (int i = 0; i < 4; i++) r[reg(ops[0][i].strip())] = bits(dv[i]);
            }
        }
    }

    /// f32 bits rounded to bf16 (the high 16 bits: 7 explicit mantissa bits), to nearest with
    /// ties to even, as `cvt.rn.bf16x2.f32` does; NaN stays NaN (quiet).
    static int bf16(int bits) {
        if ((bits & 0x7fffffff) > 0x7f800000) return (bits >>> 16) | 0x40;
        return (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
    }

    /// f32 bits rounded to tf32 (10 explicit mantissa bits), to nearest with ties away from
    /// zero, as `cvt.rna.tf32.f32` does; the low 13 bits of the result are 0.
    static int tf32(int bits) {
        if ((bits & 0x7f800000) == 0x7f800000) return bits; // inf, NaN
        return (bits + 0x1000) & 0xffffe000;
    }
}
