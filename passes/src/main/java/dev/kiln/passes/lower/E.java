package dev.kiln.passes.lower;

import dev.kiln.ir.kernel.*;
import dev.kiln.ir.kernel.Kir.*;
import dev.kiln.runtime.DType;

import java.util.List;

/// Smart constructors for kernel-IR expressions: index arithmetic folds constants
/// (`i*1 -> i`, `0+i -> i`, `2*3 -> 6`) so dumps stay readable and loops stay simple.
final class E {
    private E() {}

    static final Expr ZERO = i32(0), ONE = i32(1);

    static Expr i32(long v) { return new IntConst(v, DType.I32); }

    static boolean isConst(Expr e, long v) { return e instanceof IntConst(long c, DType t) && t == DType.I32 && c == v; }

    static Expr add(Expr a, Expr b) {
        if (isConst(a, 0)) return b;
        if (isConst(b, 0)) return a;
        if (a instanceof IntConst(long x, DType t) && t == DType.I32 && b instanceof IntConst(long y, DType u) && u == DType.I32)
            return i32(x + y);
        return new Bin(BinOp.ADD, a, b, DType.I32);
    }

    static Expr sub(Expr a, Expr b) {
        if (isConst(b, 0)) return a;
        if (a instanceof IntConst(long x, DType t) && t == DType.I32 && b instanceof IntConst(long y, DType u) && u == DType.I32)
            return i32(x - y);
        return new Bin(BinOp.SUB, a, b, DType.I32);
    }

    static Expr mul(Expr a, Expr b) {
        if (isConst(a, 1)) return b;
        if (isConst(b, 1)) return a;
        if (isConst(a, 0) || isConst(b, 0)) return ZERO;
        if (a instanceof IntConst(long x, DType t) && t == DType.I32 && b instanceof IntConst(long y, DType u) && u == DType.I32)
            return i32(x * y);
        return new Bin(BinOp.MUL, a, b, DType.I32);
    }

    static Expr div(Expr a, Expr b) {
        if (isConst(b, 1)) return a;
        return new Bin(BinOp.DIV, a, b, DType.I32);
    }

    static Expr mod(Expr a, Expr b) {
        if (isConst(b, 1)) return ZERO;
        return new Bin(BinOp.MOD, a, b, DType.I32);
    }

    static Expr lt(Expr a, Expr b) { return new Bin(BinOp.LT, a, b, DType.BOOL); }
    static Expr and(Expr a, Expr b) { return new Bin(BinOp.AND, a, b, DType.BOOL); }

    static Expr product(List<Expr> xs) {
        Expr p = ONE;
        for (Expr x : xs) p = mul(p, x);
        return p;
    }

    /// Row-major flat index of `idx` within `dims`.
    static Expr linearize(List<Expr> idx, List<Expr> dims) {
        Expr flat = ZERO;
        for (int a = 0; a < idx.size(); a++) flat = add(mul(flat, dims.get(a)), idx.get(a));
        return flat;
    }
}
