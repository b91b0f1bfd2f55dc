package dev.kiln.ir;

import java.util.ArrayList;
import java.util.List;

/// A list of axis numbers: the axes a reduction removes, a permutation, the result axes a
/// broadcast maps its operand onto. A record over a List (never an array) so that op records
/// holding it compare by value. Printed `[1,0]`.
public record Axes(List<Integer> values) {
    public Axes { values = List.copyOf(values); }

    public static Axes of(int... axes) {
        List<Integer> l = new ArrayList<>();
        for (int a : axes) l.add(a);
        return new Axes(l);
    }

    /// 0, 1, ..., n-1.
    public static Axes range(int n) { return range(0, n); }

    public static Axes range(int from, int to) {
        List<Integer> l = new ArrayList<>();
        for (int a = from; a < to; a++) l.add(a);
        return new Axes(l);
    }

    public int size() { return values.size(); }
    public int get(int i) { return values.get(i); }
    public boolean contains(int axis) { return values.contains(axis); }

    /// The axes of 0..rank-1 not in this list, ascending.
    public Axes complement(int rank) {
        List<Integer> l = new ArrayList<>();
        for (int a = 0; a < rank; a++) if (!values.contains(a)) l.add(a);
        return new Axes(l);
    }

    /// For a permutation: the permutation that undoes it.
    public Axes inversePermutation() {
        int[] inv = new int[values.size()];
        for (int i = 0; i < inv.length; i++) inv[values.get(i)] = i;
        return of(inv);
    }

    public int[] toArray() { return values.stream().mapToInt(Integer::intValue).toArray(); }

    @Override public String toString() {
        StringBuilder s = new StringBuilder("[");
        for (int i = 0; i < values.size(); i++) s.append(i > 0 ? "," : "").append(values.get(i));
        return s.append(']').toString();
    }
}
