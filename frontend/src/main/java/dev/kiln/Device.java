package dev.kiln;

import dev.kiln.codegen.cuda.CudaBackend;

/// Where the ops on a tensor run: `cpu` (the JVM backend, or whichever `Kiln.setBackend` chose)
/// or `cuda:0` (the CUDA backend: PTX through the CUDA driver). A tensor's device decides which
/// backend computes it: eager ops on `cuda` tensors are compiled to PTX and run on the GPU, and
/// `Kiln.compile` / `Kiln.compileTrainStep` on `cuda` inputs compile for the GPU.
///
/// `Device.cuda()` fails at once, with the reason in one line, when this process cannot use a
/// GPU; nothing falls back to the CPU silently. `Device.best()` picks the GPU when there is one.
/// Invariant: two devices are equal iff they name the same kind and index; a `CUDA` device
/// exists only when a GPU was usable when it was made.
public record Device(Kind kind, int index) {
    public enum Kind { CPU, CUDA }

    private static final Device CPU = new Device(Kind.CPU, 0);

    /// Checks the invariant: a CUDA device is made only for a usable GPU, and Kiln's is number 0.
    public Device {
        if (kind == Kind.CPU && index != 0) throw new KilnException(Locations.capture(), "device 'cpu:" + index + "' does not exist; the CPU is 'cpu'");
        if (kind == Kind.CUDA) {
            String why = CudaBackend.unavailableReason();
            if (why != null) throw new KilnException(Locations.capture(), "device 'cuda:" + index + "' is not available: " + why);
            if (index != 0)
                throw new KilnException(Locations.capture(), "device 'cuda:" + index + "' is not available: Kiln uses one GPU per process, cuda:0 ("
                        + CudaBackend.deviceName() + ")");
        }
    }

    public static Device cpu() { return CPU; }

    /// The first GPU; throws `KilnException` saying why when this process cannot use one.
    public static Device cuda() { return cuda(0); }

    /// GPU number `index`. Kiln drives one GPU per process, the driver's device 0.
    public static Device cuda(int index) { return new Device(Kind.CUDA, index); }

    /// `cuda:0` when this process can use a GPU, otherwise the CPU.
    public static Device best() { return CudaBackend.available() ? new Device(Kind.CUDA, 0) : CPU; }

    /// Whether the CUDA device is usable here (without making one).
    public static boolean cudaAvailable() { return CudaBackend.available(); }

    /// `cpu` or `cuda:0`, as PyTorch prints devices.
    @Override public String toString() { return kind == Kind.CPU ? "cpu" : "cuda:" + index; }
}
