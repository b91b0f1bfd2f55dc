package dev.kiln.data;

/// The one unchecked error of `dev.kiln.data`: a missing, corrupt or hostile data file, a failed
/// download, or a batch that could not be loaded. Invariant: the message is one line that names
/// the file, URL or batch concerned and says what was wrong with it.
public final class DataException extends RuntimeException {
    public DataException(String message) { super(message); }
    public DataException(String message, Throwable cause) { super(message, cause); }
}
