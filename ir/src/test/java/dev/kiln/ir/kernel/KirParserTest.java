package dev.kiln.ir.kernel;

import dev.kiln.ir.kernel.Kir.*;
import dev.kiln.ir.text.ParseException;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/// `KirParser` against programs built record by record: what the text leaves out (types, the
/// parameter order, the plan beyond its slots) comes back as the rules say, every construct
/// round-trips, and malformed text fails with one error at its line and column.
class KirParserTest {
    private static final DType F32 = DType.F32, I32 = DType.I32;

    private static Expr i32(long v) { return new IntConst(v, I32); }

    private static Local local(String name, DType t) { return new Local(name, t); }

    /// A hand-written program, and the records it must read as, built without the parser.
    @Test void readsTheTypesAndPlanThatTheTextLeavesOut() {
        String text = """
                program @scaled_max symbols [B]
                  b0: f16[(B * 2)] param 1 "x" (B = axis 0)
                  b1: i64[1] param 0 "seed"
                  b2: f16[(B * 2)] temp "%0" slot 0
                  b3: f32[B] temp "%1" result 0, 1
                  b4: f16[2] const 0 "const0"
                  const 0: f16[2] [0.5,-2.0]
                kernel k0_scale  // m.kir:3
                  for i0 < (B * 2) {
                    b2[i0] = (isnan(b0[i0]) ? 0.0_f16 : (b0[i0] * b4[(i0 % 2)]))
                  }
                kernel k1_max
                  for i1 < B {
                    f32 acc = -Infinityf
                    for r2 < 2 {
                      acc = max(acc, (f32) b2[((i1 * 2) + r2)])
                    }
                    b3[i1] = select((acc > 0.0f), acc, rand_f32(b1[0], (i64) i1))
                  }
                """;
        DType f16 = DType.F16;
        List<Buffer> buffers = List.of(
                new Buffer(0, "x", f16, new Bin(BinOp.MUL, new Sym("B"), i32(2), I32), BufferKind.PARAM, 1),
                new Buffer(1, "seed", DType.I64, i32(1), BufferKind.PARAM, 0),
                new Buffer(2, "%0", f16, new Bin(BinOp.MUL, new Sym("B"), i32(2), I32), BufferKind.TEMP, -1),
                new Buffer(3, "%1", F32, new Sym("B"), BufferKind.TEMP, -1),
                new Buffer(4, "const0", f16, i32(2), BufferKind.CONST, 0));
        Expr x = new Load(0, local("i0", I32), f16); // a load has its buffer's dtype
        Expr scaled = new Bin(BinOp.MUL, x, new Load(4, new Bin(BinOp.MOD, local("i0", I32), i32(2), I32), f16), f16);
        Kernel scale = new Kernel("k0_scale", "m.kir:3", List.of(new Loop("i0", new Bin(BinOp.MUL, new Sym("B"), i32(2), I32), List.of(
                new Store(2, local("i0", I32), new Sel(new Un(UnOp.ISNAN, x, DType.BOOL), new FloatConst(0, f16), scaled, f16, true))))));
        Expr row = new Bin(BinOp.ADD, new Bin(BinOp.MUL, local("i1", I32), i32(2), I32), local("r2", I32), I32);
        Local acc = local("acc", F32);
        Kernel max = new Kernel("k1_max", "unknown", List.of(new Loop("i1", new Sym("B"), List.of(
                new Let("acc", new FloatConst(Double.NEGATIVE_INFINITY, F32)),
                new Loop("r2", i32(2), List.of(new Set("acc", new Bin(BinOp.MAX, acc, new Convert(new Load(2, row, f16), F32), F32)))),
                new Store(3, local("i1", I32), new Sel(new Bin(BinOp.GT, acc, new FloatConst(0, F32), DType.BOOL), acc,
                        new Rand(new Load(1, i32(0), DType.I64), new Convert(local("i1", I32), DType.I64), F32), F32, false))))));
        NdArray constant = NdArray.zeros(f16, 2);
        constant.setDouble(0, 0.5);
        constant.setDouble(1, -2);
        // b2 is written by kernel 0 and read by kernel 1; b0, b4 read by 0; b1 read and b3 written by 1
        BufferPlan plan = new BufferPlan(new int[]{-1, -1, 0, -1, -1}, List.of(f16), List.of(List.of(2)),
                new int[]{-1, -1, 0, 1, -1}, new int[]{0, 1, 1, 1, 0});
        KernelProgram want = new KernelProgram("scaled_max", buffers, List.of(scale, max), List.of(1, 0), List.of(3, 3),
                List.of(constant), List.of("B"), List.of(1), List.of(0), plan);

        KernelProgram got = KirParser.parse(text, "m.txt");
        assertEquals(want, got);
        assertEquals(text, KirPrinter.print(got));
    }

    /// Every expression form, every library call and odd names and values survive print, parse, print.
    @Test void everyConstructRoundTrips() {
        List<Buffer> buffers = new ArrayList<>();
        String[] names = {"x \"quoted\"", "w", "y", "gx", "gw", "c", "t"};
        DType[] types = {F32, F32, F32, F32, F32, DType.BOOL, DType.F64};
        for (int b = 0; b < names.length; b++)
            buffers.add(new Buffer(b, names[b], types[b], i32(4), b < 2 ? BufferKind.PARAM : b == 5 ? BufferKind.CONST : BufferKind.TEMP,
                    b < 2 ? b : b == 5 ? 0 : -1));
        ConvGeom geom = new ConvGeom(1, 2, 2, 1, 1, 1, 2, 2, 1, 1, 0, 0, 1, 1, 1);
        Loop epilogue = new Loop("e0", i32(4), List.of(new Store(2, local("e0", I32), new Un(UnOp.RELU, new Load(2, local("e0", I32), F32), F32))));
        List<Stmt> calls = List.of(
                new Call(new Gemm(2, 0, 1, i32(1), i32(2), i32(2), i32(1), true, false, F32), epilogue),
                new Call(new Conv(ConvForm.FORWARD, 0, 1, 2, i32(1), geom, F32), null),
                new Call(new Conv(ConvForm.GRAD_INPUT, 3, 1, 2, i32(1), geom, F32), null),
                new Call(new Conv(ConvForm.GRAD_WEIGHT, 0, 4, 2, i32(1), geom, F32), null));
        List<Stmt> body = new ArrayList<>();
        Expr v = new Load(0, local("j", I32), F32), d = new Load(6, local("j", I32), DType.F64);
        body.add(new Store(6, local("j", I32), new Convert(v, DType.F64))); // b6 is written before it is read
        for (UnOp op : UnOp.values())
            if (op != UnOp.NOT && op != UnOp.ISNAN) body.add(new Let("u" + op.ordinal(), new Un(op, v, F32)));
        body.add(new Let("n", new Un(UnOp.NOT, new Load(5, local("j", I32), DType.BOOL), DType.BOOL)));
        for (BinOp op : BinOp.values())
            if (op != BinOp.AND && op != BinOp.OR) body.add(new Let("v" + op.ordinal(), new Bin(op, d, d, op.isCompare() ? DType.BOOL : DType.F64)));
        body.add(new Let("l", new Bin(BinOp.OR, new Bin(BinOp.AND, local("n", DType.BOOL), new IntConst(1, DType.BOOL), DType.BOOL),
                new IntConst(0, DType.BOOL), DType.BOOL)));
        for (double c : new double[]{Double.NaN, Double.POSITIVE_INFINITY, -0.0, 1e-300, 123456.789})
            body.add(new Let("f" + body.size(), new FloatConst(c, DType.F64)));
        body.add(new Let("h", new FloatConst(1.5, DType.BF16)));
        body.add(new Let("m", new IntConst(Long.MIN_VALUE, DType.I64)));
        body.add(new Let("k", i32(-7)));
        body.add(new Set("k", new Bin(BinOp.SUB, local("k", I32), i32(-1), I32)));
        body.add(new Store(6, local("j", I32), new Sel(local("l", DType.BOOL), new Convert(new Rand(new IntConst(3, DType.I64),
                new Convert(local("j", I32), DType.I64), DType.F16), DType.F64), d, DType.F64, true)));
        List<Stmt> stmts = new ArrayList<>(calls);
        stmts.add(new Loop("j", i32(4), body));
        NdArray mask = NdArray.of(new boolean[]{true, false, true, true}, 2, 2);
        List<Kernel> kernels = List.of(new Kernel("all forms", "", stmts));
        int[] slots = {-1, -1, 0, 1, 2, -1, -1};
        KernelProgram p = new KernelProgram("every construct", buffers, kernels, List.of(0, 1), List.of(6), List.of(mask),
                List.of(), List.of(), List.of(), BufferPlan.of(slots, buffers, kernels));
        String text = KirPrinter.print(p);
        KernelProgram back = KirParser.parse(text, "all.txt");
        assertEquals(p, back, text);
        assertEquals(text, KirPrinter.print(back));
    }

    // ---- errors --------------------------------------------------------------------------

    private static final String HEADER = """
            program @t symbols [B]
              b0: f32[B] param 0 "x" (B = axis 0)
              b1: f32[B] temp "y" result 0
            kernel k0
              for i0 < B {
            """;

    /// The one diagnostic of `text`, as `file:line:column: error: message`.
    private static String error(String text) {
        ParseException e = assertThrows(ParseException.class, () -> KirParser.parse(text, "bad.txt"));
        assertEquals(1, e.diagnostics().size());
        return e.diagnostics().getFirst().toString();
    }

    /// The diagnostic of a program whose loop body (line 6) is `line`.
    private static String bodyError(String line) { return error(HEADER + line + "\n  }\n"); }

    @Test void malformedStatementsNameTheLineAndWhatIsWrong() {
        // column 19: where b7 starts after "    b1[i0] = relu("
        assertEquals("bad.txt:6:19: error: buffer b7 is not declared (the program has b0 to b1)", bodyError("    b1[i0] = relu(b7[i0])"));
        assertEquals("bad.txt:6:9: error: local t is declared f32, but its value has type f64", bodyError("    f32 t = 1.0d"));
        assertEquals("bad.txt:6:28: error: expected ')' after '+' and its operands, found end of line",
                bodyError("    b1[i0] = (b0[i0] + 1.0f"));
        assertEquals("bad.txt:6:14: error: 'q' is neither a local declared above nor a symbol of the program", bodyError("    b1[i0] = q"));
        assertTrue(bodyError("    b1[i0] = 1.5").startsWith("bad.txt:6:14: error: malformed number '1.5'"));
        assertEquals("bad.txt:6:5: error: 't' is not a local declared above", bodyError("    t = b0[i0]"));
        assertEquals("bad.txt:7:1: error: expected '}' to close the loop over i0, found end of file", error(HEADER + "    b1[i0] = b0[i0]\n"));
    }

    @Test void malformedHeadersNameTheLineAndWhatIsWrong() {
        assertEquals("bad.txt:2:3: error: expected buffer b0 (buffers are numbered in order), found 'b1'",
                error("program @t\n  b1: f32[4] param 0 \"x\"\n"));
        assertEquals("bad.txt:3:1: error: no parameter binds symbol B (write '(B = axis A)' on its buffer line)",
                error("program @t symbols [B]\n  b0: f32[B] param 0 \"x\"\n"));
        assertEquals("bad.txt:2:31: error: only a temp buffer has a slot", error("program @t\n  b0: f32[4] param 0 \"x\" slot 0\n"));
        assertEquals("bad.txt:2:28: error: slot 1 skips a number (slots are numbered from 0 in order of first mention)",
                error("program @t\n  b0: f32[4] temp \"y\" slot 1\n"));
        assertEquals("bad.txt:3:27: error: expected ',' and value 2 of 3, found ']'",
                error("program @t\n  b0: f32[3] const 0 \"c\"\n  const 0: f32[3] [1.0,2.0]\n"));
        assertEquals("bad.txt:2:7: error: unknown dtype 'f33' (expected f16, bf16, f32, f64, i32, i64 or bool)",
                error("program @t\n  b0: f33[4] param 0 \"x\"\n"));
        assertEquals("bad.txt:3:3: error: buffer b0 holds constant 0, which is not given (expected 'const 0: ...')",
                error("program @t\n  b0: f32[4] const 0 \"c\"\n  kernel k0\n"));
    }
}
