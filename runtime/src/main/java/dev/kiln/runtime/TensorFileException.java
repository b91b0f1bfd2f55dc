package dev.kiln.runtime;

/// A tensor file (`.npy`, `.safetensors`) that cannot be read or written. Invariant: the message
/// is `source + ": " + problem`, the file (or the name the caller gave a byte array or stream)
/// first, then what is wrong, e.g.
/// `weights.safetensors: tensor 'fc.bias' has shape [10] (40 bytes as F32) but data_offsets cover 36 bytes`.
public final class TensorFileException extends RuntimeException {
    private final String source;
    private final String problem;

    public TensorFileException(String source, String problem) {
        this(source, problem, null);
    }

    public TensorFileException(String source, String problem, Throwable cause) {
        super(source + ": " + problem, cause);
        this.source = source;
        this.problem = problem;
    }

    /// The file or source name the problem is in.
    public String source() { return source; }

    /// What is wrong, without the source name.
    public String problem() { return problem; }
}
