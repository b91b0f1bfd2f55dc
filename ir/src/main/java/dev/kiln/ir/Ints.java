package dev.kiln.ir;

import java.util.ArrayList;
import java.util.List;

/// A small list of integers used as an attribute (a convolution's stride, padding, dilation).
/// Printed `[1,1]`; a record over a List so that op records compare by value.
public record Ints(List<Integer> values) {
    public Ints { values = List.copyOf(values); }

    public static Ints of(int... v) {
        List<Integer> l = new ArrayList<>();
        for (int x : v) l.add(x);
        return new Ints(l);
    }

    public int size() { return values.size(); }
    public int get(int i) { return values.get(i); }

    @Override public String toString() {
        StringBuilder s = new StringBuilder("[");
        for (int i = 0; i < values.size(); i++) s.append(i > 0 ? "," : "").append(values.get(i));
        return s.append(']').toString();
    }
}
