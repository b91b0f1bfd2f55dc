package dev.kiln.data;

import java.util.Objects;
import java.util.function.Function;

/// A finite, indexable collection of examples, as PyTorch's map-style `Dataset`. Invariant:
/// `get(i)` is defined for every `0 <= i < size()` and may be called from any thread (the
/// `DataLoader` calls it on its prefetch worker), so implementations are effectively immutable.
public interface Dataset<E> {
    int size();

    E get(int i);

    /// This dataset with `f` applied to each example as it is read (a lazy view, not a copy).
    default <F> Dataset<F> map(Function<? super E, ? extends F> f) {
        Objects.requireNonNull(f);
        Dataset<E> base = this;
        return new Dataset<>() {
            public int size() { return base.size(); }
            public F get(int i) { return f.apply(base.get(i)); }
        };
    }

    /// Examples `from` (inclusive) to `to` (exclusive) of this dataset, as a view.
    default Dataset<E> slice(int from, int to) {
        Objects.checkFromToIndex(from, to, size());
        Dataset<E> base = this;
        return new Dataset<>() {
            public int size() { return to - from; }
            public E get(int i) { return base.get(from + Objects.checkIndex(i, to - from)); }
        };
    }
}
