package dev.kiln.data;

import dev.kiln.data.MnistFiles.Split;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/// LeCun, Cortes and Burges' MNIST handwritten digits: 60,000 training and 10,000 test 28x28
/// grayscale images, as `LabeledImages` normalized with mean 0.1307 and std 0.3081.
///
/// `train()`/`test()` look in `~/.kiln/data/mnist` (no distribution package ships MNIST, and no
/// subset is embedded); `train(dir)` reads `dir` only; with `download` true the missing files are
/// fetched from the mirror PyTorch uses and checked against the published MD5 sums. Invariant:
/// labels are the digits 0 to 9.
public final class Mnist extends LabeledImages {
    public static final float MEAN = 0.1307f, STD = 0.3081f;
    public static final List<String> CLASSES = List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9");

    static final MnistFiles.Spec SPEC = new MnistFiles.Spec("MNIST", "mnist", null, null,
            List.of("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
            Map.of("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                    "train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432",
                    "t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3",
                    "t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
            null);

    Mnist(MnistFiles.Loaded files) { super(files, MEAN, STD, CLASSES); }

    public static Mnist train() { return train(null, false); }
    public static Mnist test() { return test(null, false); }
    public static Mnist train(Path dir) { return train(dir, false); }
    public static Mnist test(Path dir) { return test(dir, false); }

    /// The training set from `dir` (null: `~/.kiln/data/mnist`); `download` fetches the files not found.
    public static Mnist train(Path dir, boolean download) {
        return new Mnist(MnistFiles.load(SPEC, Split.TRAIN, dir, download));
    }

    public static Mnist test(Path dir, boolean download) {
        return new Mnist(MnistFiles.load(SPEC, Split.TEST, dir, download));
    }
}
