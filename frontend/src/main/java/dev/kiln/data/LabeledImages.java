package dev.kiln.data;

import dev.kiln.runtime.NdArray;
import java.util.Arrays;
import java.util.List;

/// A classification dataset of 8-bit grayscale images in the MNIST file format. Example `i` is
/// the image as `f32[1,rows,cols]`, normalized as torchvision's `ToTensor` then `Normalize(mean,
/// std)` do it (`(x/255 - mean)/std` in float), with its class as an `i64[]` scalar. The pixels
/// stay bytes (47 MB for 60,000 images rather than 188 MB as floats) and are converted per read.
/// Invariant: every label is below `classes().size()`.
public abstract sealed class LabeledImages implements Dataset<Example> permits FashionMnist, Mnist {
    private final byte[] pixels, labels;
    private final int count, rows, cols;
    private final float[] normalized = new float[256]; // pixel value -> normalized float
    private final List<String> classes;
    private final String source;

    LabeledImages(MnistFiles.Loaded files, float mean, float std, List<String> classes) {
        Idx images = files.images(), labels = files.labels();
        String where = files.source();
        if (images.type() != Idx.Type.UBYTE || images.rank() != 3)
            throw new DataException(where + ": the images file holds " + images + ", not ubyte[count,rows,cols]");
        if (labels.type() != Idx.Type.UBYTE || labels.rank() != 1)
            throw new DataException(where + ": the labels file holds " + labels + ", not ubyte[count]");
        if (images.dim(0) != labels.dim(0))
            throw new DataException(where + ": " + images.dim(0) + " images but " + labels.dim(0) + " labels");
        this.pixels = (byte[]) images.data();
        this.labels = (byte[]) labels.data();
        for (int i = 0; i < this.labels.length; i++)
            if ((this.labels[i] & 0xff) >= classes.size())
                throw new DataException(where + ": label " + (this.labels[i] & 0xff) + " of example " + i
                        + " is not one of the " + classes.size() + " classes");
        this.count = images.dim(0);
        this.rows = images.dim(1);
        this.cols = images.dim(2);
        for (int v = 0; v < 256; v++) normalized[v] = (v / 255f - mean) / std;
        this.classes = List.copyOf(classes);
        this.source = where;
    }

    @Override public int size() { return count; }

    @Override public Example get(int i) {
        java.util.Objects.checkIndex(i, count);
        int n = rows * cols, at = i * n;
        float[] x = new float[n];
        for (int p = 0; p < n; p++) x[p] = normalized[pixels[at + p] & 0xff];
        return new Example(NdArray.of(x, 1, rows, cols), NdArray.of(new long[] {labels[i] & 0xff}));
    }

    /// The class of example `i`.
    public int label(int i) { return labels[java.util.Objects.checkIndex(i, count)] & 0xff; }

    /// Pixel `(r, c)` of example `i` as stored, 0 to 255.
    public int pixel(int i, int r, int c) {
        java.util.Objects.checkIndex(r, rows);
        java.util.Objects.checkIndex(c, cols);
        return pixels[java.util.Objects.checkIndex(i, count) * rows * cols + r * cols + c] & 0xff;
    }

    /// How many examples each class has.
    public int[] classCounts() {
        int[] counts = new int[classes.size()];
        for (byte l : labels) counts[l & 0xff]++;
        return counts;
    }

    /// Class names, indexed by label.
    public List<String> classes() { return classes; }

    /// Where the files came from: a directory, or "embedded subset".
    public String source() { return source; }

    @Override public String toString() {
        return getClass().getSimpleName() + "(" + count + " images " + rows + "x" + cols + " from " + source
                + ", per class " + Arrays.toString(classCounts()) + ")";
    }
}
