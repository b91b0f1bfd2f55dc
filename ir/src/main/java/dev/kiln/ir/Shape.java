package dev.kiln.ir;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/// An ordered list of dimensions; rank 0 is a scalar. Invariant: immutable.
public record Shape(List<Dim> dims) {
    public Shape { dims = List.copyOf(dims); }

    public static final Shape SCALAR = new Shape(List.of());

    public static Shape of(long... sizes) {
        List<Dim> d = new ArrayList<>();
        for (long s : sizes) d.add(Dim.of(s));
        return new Shape(d);
    }

    /// Dimensions given as `Long`/`Integer` (fixed) or `String` (symbol): `Shape.of("B", 784)`.
    public static Shape of(Object... dims) {
        List<Dim> d = new ArrayList<>();
        for (Object o : dims) d.add(switch (o) {
            case Dim x -> x;
            case String s -> Dim.sym(s);
            case Number n -> Dim.of(n.longValue());
            default -> throw new IllegalArgumentException("not a dimension: " + o);
        });
        return new Shape(d);
    }

    public int rank() { return dims.size(); }
    public Dim dim(int axis) { return dims.get(axis); }
    public boolean isStatic() { return dims.stream().allMatch(Dim::isFixed); }

    /// Number of elements; throws if a dimension is symbolic.
    public long numel() {
        long n = 1;
        for (Dim d : dims) n *= d.size();
        return n;
    }

    /// The element count as a monomial (fixed product, symbol exponents): two shapes hold the same
    /// number of elements for every binding iff their monomials are equal.
    public Object numelMonomial() {
        long fixed = 1;
        Map<String, Integer> syms = new TreeMap<>();
        for (Dim d : dims) {
            if (d instanceof Dim.Fixed(long s)) fixed *= s;
            else syms.merge(((Dim.Sym) d).name(), 1, Integer::sum);
        }
        return fixed == 0 ? List.of(0L) : List.of(fixed, syms);
    }

    /// Sizes with every symbol bound by `bindings`; throws IllegalArgumentException for an unbound one.
    public int[] resolve(Map<String, Integer> bindings) {
        int[] out = new int[dims.size()];
        for (int i = 0; i < out.length; i++) {
            Dim d = dims.get(i);
            if (d instanceof Dim.Fixed(long s)) out[i] = Math.toIntExact(s);
            else {
                Integer v = bindings.get(((Dim.Sym) d).name());
                if (v == null) throw new IllegalArgumentException("dimension symbol '" + d + "' is not bound");
                out[i] = v;
            }
        }
        return out;
    }

    public Shape with(int axis, Dim d) {
        List<Dim> l = new ArrayList<>(dims);
        l.set(axis, d);
        return new Shape(l);
    }

    public Shape without(Axes axes) {
        List<Dim> l = new ArrayList<>();
        for (int i = 0; i < dims.size(); i++) if (!axes.contains(i)) l.add(dims.get(i));
        return new Shape(l);
    }

    @Override public String toString() {
        StringBuilder s = new StringBuilder("[");
        for (int i = 0; i < dims.size(); i++) s.append(i > 0 ? "," : "").append(dims.get(i));
        return s.append(']').toString();
    }
}
