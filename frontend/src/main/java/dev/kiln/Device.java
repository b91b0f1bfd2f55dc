package dev.kiln;

/// Where a tensor's values live and where the ops on it run. Kiln runs on the CPU today; the CUDA
/// device exists so that code written for it reads as it will, and asking for it fails with a
/// clear message until the CUDA backend is wired in. Invariant: two devices are equal iff they
/// name the same kind and index.
public record Device(Kind kind, int index) {
    public enum Kind { CPU, CUDA }

    private static final Device CPU = new Device(Kind.CPU, 0);

    public static Device cpu() { return CPU; }

    /// The first GPU. Fails today: no CUDA backend is available to the frontend yet.
    public static Device cuda() { return cuda(0); }

    public static Device cuda(int index) {
        throw new KilnException(Locations.capture(),
                "device 'cuda:" + index + "' is not available: this build of Kiln runs tensors on the CPU only "
                        + "(use Device.best() to pick the best available device)");
    }

    /// The fastest device available: CUDA when present, otherwise the CPU (today always the CPU).
    public static Device best() { return CPU; }

    /// `cpu` or `cuda:0`, as PyTorch prints devices.
    @Override public String toString() { return kind == Kind.CPU ? "cpu" : "cuda:" + index; }
}
