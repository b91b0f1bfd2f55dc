package dev.kiln.codegen.cuda.rt;

import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

import static jcuda.driver.JCudaDriver.*;

/// The process's view of the GPU through the CUDA driver API (JCuda): device 0, its primary
/// context, one stream, the loaded modules (keyed by PTX text, each unloaded after its last
/// user) and a caching device allocator. One instance per process, created on first use; every call that touches the
/// context runs under its lock and makes the context current on the calling thread first.
/// Invariant: every driver call's result is checked; a failure throws `CudaException` naming
/// the call and the driver's error.
public final class CudaDriver {
    /// A failed driver call, as one line: which call, which error.
    public static final class CudaException extends RuntimeException {
        public CudaException(String message) { super(message); }
    }

    private static volatile CudaDriver instance;
    private static volatile String unavailable;

    final CUdevice device = new CUdevice();
    final CUcontext context = new CUcontext();
    final CUstream stream = new CUstream();
    final String name;
    final int smCount, major, minor;
    /// Loaded modules by PTX text, with how many executables use each.
    private final Map<String, Loaded> modules = new HashMap<>();

    final Allocator allocator = new Allocator();

    private static final class Loaded {
        final CUmodule module = new CUmodule();
        int users;
    }

    private CudaDriver() {
        check(cuDeviceGet(device, 0), "cuDeviceGet");
        check(cuDevicePrimaryCtxRetain(context, device), "cuDevicePrimaryCtxRetain");
        check(cuCtxSetCurrent(context), "cuCtxSetCurrent");
        check(cuStreamCreate(stream, jcuda.driver.CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate");
        byte[] buf = new byte[256];
        check(cuDeviceGetName(buf, buf.length, device), "cuDeviceGetName");
        int n = 0;
        while (n < buf.length && buf[n] != 0) n++;
        name = new String(buf, 0, n);
        smCount = attribute(jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
        major = attribute(jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
        minor = attribute(jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
    }

    private int attribute(int a) {
        int[] v = new int[1];
        check(cuDeviceGetAttribute(v, a, device), "cuDeviceGetAttribute");
        return v[0];
    }

    static void check(int rc, String call) {
        if (rc != CUresult.CUDA_SUCCESS) throw new CudaException(call + " failed: " + CUresult.stringFor(rc));
    }

    /// Null when a GPU can be used; else why not, in one line (no driver library, no device, ...).
    public static String unavailableReason() {
        if (instance != null) return null;
        if (unavailable != null) return unavailable;
        synchronized (CudaDriver.class) {
            if (instance != null || unavailable != null) return unavailable;
            try {
                JCudaDriver.setExceptionsEnabled(false);
                int rc = cuInit(0);
                if (rc != CUresult.CUDA_SUCCESS) {
                    unavailable = "no usable CUDA driver: cuInit returned " + CUresult.stringFor(rc);
                    return unavailable;
                }
                int[] count = new int[1];
                rc = cuDeviceGetCount(count);
                if (rc != CUresult.CUDA_SUCCESS || count[0] == 0) {
                    unavailable = "no CUDA device (" + (rc != 0 ? CUresult.stringFor(rc) : "device count 0") + ")";
                    return unavailable;
                }
                instance = new CudaDriver();
                return null;
            } catch (UnsatisfiedLinkError | NoClassDefFoundError e) {
                unavailable = "no CUDA driver: the driver library (libcuda.so.1) or JCuda's binding to it did not load ("
                        + firstLine(e.getMessage()) + ")";
            } catch (CudaException e) {
                unavailable = "the CUDA device could not be opened: " + e.getMessage();
            } catch (RuntimeException e) {
                unavailable = "CUDA is not usable here: " + e.getClass().getSimpleName() + ": " + firstLine(e.getMessage());
            }
            return unavailable;
        }
    }

    private static String firstLine(String s) { return s == null ? "" : s.lines().findFirst().orElse(""); }

    /// The device in use, e.g. `NVIDIA H100 80GB HBM3 (sm_90, 132 SMs)`; throws `CudaException`
    /// when there is no usable GPU.
    public static String deviceName() {
        CudaDriver d = get();
        return d.name + " (sm_" + d.major + d.minor + ", " + d.smCount + " SMs)";
    }

    /// Gives the device memory that released buffers left cached back to the driver; does
    /// nothing when this process has not opened the GPU.
    public static void trimCache() {
        CudaDriver d = instance;
        if (d != null) {
            d.enter();
            d.allocator.trim();
        }
    }

    /// Bytes of device memory held by the allocator: in use and cached (0 before the GPU opens).
    public static long reservedBytes() {
        CudaDriver d = instance;
        return d == null ? 0 : d.allocator.reservedBytes();
    }

    /// The driver; throws `CudaException` with the reason when there is no usable GPU.
    static CudaDriver get() {
        String why = unavailableReason();
        if (why != null) throw new CudaException(why);
        return instance;
    }

    /// Makes the context current on this thread (cheap when it already is).
    void enter() { check(cuCtxSetCurrent(context), "cuCtxSetCurrent"); }

    /// The module for `ptx`, loaded (and JIT-compiled by the driver for this card) on its first
    /// user; each call adds a user, `unload` drops one and unloads the module after the last.
    synchronized CUmodule load(String ptx) {
        Loaded m = modules.get(ptx);
        if (m == null) {
            enter();
            m = new Loaded();
            check(cuModuleLoadData(m.module, ptx), "cuModuleLoadData");
            modules.put(ptx, m);
        }
        m.users++;
        return m.module;
    }

    synchronized void unload(String ptx) {
        Loaded m = modules.get(ptx);
        if (m == null || --m.users > 0) return;
        modules.remove(ptx);
        enter();
        check(cuModuleUnload(m.module), "cuModuleUnload");
    }

    /// How many modules are loaded now (0 before the GPU opens); for tests and diagnostics.
    public static int loadedModules() {
        CudaDriver d = instance;
        if (d == null) return 0;
        synchronized (d) {
            return d.modules.size();
        }
    }

    /// How many executables use the module of `ptx` (0: not loaded); for tests and diagnostics.
    public static int moduleUsers(String ptx) {
        CudaDriver d = instance;
        if (d == null) return 0;
        synchronized (d) {
            Loaded m = d.modules.get(ptx);
            return m == null ? 0 : m.users;
        }
    }

    /// Device memory in size classes (powers of two from 512 bytes), kept on free lists when
    /// released so that a steady stream of same-shaped calls never reaches cuMemAlloc.
    final class Allocator {
        private final Map<Long, ArrayDeque<CUdeviceptr>> free = new HashMap<>();
        private long reserved;

        static long sizeClass(long bytes) { return Math.max(512, Long.highestOneBit(Math.max(1, bytes) - 1) << 1); }

        synchronized CUdeviceptr alloc(long bytes) {
            long size = sizeClass(bytes);
            ArrayDeque<CUdeviceptr> list = free.get(size);
            if (list != null && !list.isEmpty()) return list.pop();
            CUdeviceptr p = new CUdeviceptr();
            int rc = cuMemAlloc(p, size);
            if (rc == CUresult.CUDA_ERROR_OUT_OF_MEMORY) { // give back what is cached and try once more
                trim();
                rc = cuMemAlloc(p, size);
            }
            check(rc, "cuMemAlloc(" + size + " bytes)");
            reserved += size;
            return p;
        }

        synchronized void release(CUdeviceptr p, long bytes) {
            free.computeIfAbsent(sizeClass(bytes), k -> new ArrayDeque<>()).push(p);
        }

        synchronized void trim() {
            for (var e : free.entrySet())
                for (CUdeviceptr p : e.getValue()) {
                    cuMemFree(p);
                    reserved -= e.getKey();
                }
            free.clear();
        }

        synchronized long reservedBytes() { return reserved; }
    }

    /// Page-locked host memory (so copies are asynchronous and can be captured in a graph).
    static Pointer pinned(long bytes) {
        Pointer p = new Pointer();
        check(cuMemHostAlloc(p, Math.max(1, bytes), 0), "cuMemHostAlloc(" + bytes + " bytes)");
        return p;
    }
}
