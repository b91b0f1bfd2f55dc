package dev.kiln.data;

import dev.kiln.data.MnistFiles.Split;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/// Zalando's Fashion-MNIST: 60,000 training and 10,000 test 28x28 grayscale images of clothing
/// in 10 classes (MIT licence), as `LabeledImages` normalized with mean 0.2860 and std 0.3530.
///
/// `train()`/`test()` look in `~/.kiln/data/fashion-mnist`, then in
/// `/usr/share/datasets/fashion-mnist` (the Debian package `dataset-fashion-mnist`), and fall back
/// to an embedded class-balanced subset (2,000 training and 500 test images, the first 200 and 50
/// of each class), saying so on stderr. `train(dir)` reads `dir` only; with `download` true the
/// missing files are fetched from the dataset's public location and checked against the published
/// MD5 sums. Invariant: labels are 0 to 9, indexing `CLASSES`.
public final class FashionMnist extends LabeledImages {
    public static final float MEAN = 0.2860f, STD = 0.3530f;
    public static final List<String> CLASSES = List.of("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");

    // Published MD5 sums of the .gz files (the dataset's README); the Debian package recompresses
    // them, so its files differ as .gz while holding the same IDX data.
    static final MnistFiles.Spec SPEC = new MnistFiles.Spec("Fashion-MNIST", "fashion-mnist",
            Path.of("/usr/share/datasets/fashion-mnist"), "dataset-fashion-mnist",
            List.of("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"),
            Map.of("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                    "train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe",
                    "t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79",
                    "t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
            "/dev/kiln/data/fashion-mnist-subset");

    FashionMnist(MnistFiles.Loaded files) { super(files, MEAN, STD, CLASSES); }

    /// The training set from the default locations, else the embedded subset.
    public static FashionMnist train() { return train(null, false); }
    /// The test set from the default locations, else the embedded subset.
    public static FashionMnist test() { return test(null, false); }
    /// The training set from `dir` (null: the default locations).
    public static FashionMnist train(Path dir) { return train(dir, false); }
    /// The test set from `dir` (null: the default locations).
    public static FashionMnist test(Path dir) { return test(dir, false); }

    /// The training set from `dir` (null: the default locations, downloading into
    /// `~/.kiln/data/fashion-mnist`); `download` fetches the files not found.
    public static FashionMnist train(Path dir, boolean download) {
        return new FashionMnist(MnistFiles.load(SPEC, Split.TRAIN, dir, download));
    }

    public static FashionMnist test(Path dir, boolean download) {
        return new FashionMnist(MnistFiles.load(SPEC, Split.TEST, dir, download));
    }
}
